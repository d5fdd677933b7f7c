// `portcullis audit verify [--strict] FILE...`: checks the hash chain of audit log files given
// oldest first (audit.jsonl.2 audit.jsonl.1 audit.jsonl) and names the first bad record.
// Prints the verdict on stdout. Exit codes: 0 verified, 1 tampered, invalid or unreadable,
// 2 usage.
#pragma once

#include <string>
#include <vector>

namespace portcullis::cli {

// `args` are the words after "audit": {"verify", [--strict], FILE...}.
int AuditCommand(const std::vector<std::string>& args);

}  // namespace portcullis::cli
