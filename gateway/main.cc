// portcullis: the binary. Only wires the command line to gateway/cli.
#include "gateway/cli/cli.h"

int main(int argc, char** argv) { return portcullis::cli::Main(argc, argv); }
