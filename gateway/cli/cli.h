// The command line of DESIGN §4: `portcullis run|check|pki|...`. The only module, with
// main.cc, that knows every other module.
#pragma once

namespace portcullis::cli {

int Main(int argc, char** argv);

}  // namespace portcullis::cli
