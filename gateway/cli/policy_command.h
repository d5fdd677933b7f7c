// `portcullis policy explain`: what the policy decides for one certificate, upstream, method
// and tool/resource/prompt, the rule that decided, and why every other rule did not.
// Exit codes: 0 allowed, 3 denied, 1 error, 2 usage.
#pragma once

#include <string>
#include <vector>

namespace portcullis::cli {

int PolicyCommand(const std::vector<std::string>& args);

}  // namespace portcullis::cli
