#include "apps/commands/commands.h"

int main(int argc, char** argv) { return precept::apps::run_cli(argc, argv); }
