// `portcullis run --config FILE`: the gateway in the foreground.
#pragma once

#include <string>
#include <vector>

namespace portcullis::cli {

int RunCommand(const std::vector<std::string>& args);

}  // namespace portcullis::cli
