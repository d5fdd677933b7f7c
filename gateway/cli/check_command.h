// `portcullis check --config FILE`: validates the configuration and the certificates and
// keys it names, the way `run` would load them; prints every problem; exit 0 or 1.
#pragma once

#include <string>
#include <vector>

namespace portcullis::cli {

int CheckCommand(const std::vector<std::string>& args);

}  // namespace portcullis::cli
