// The suite's one entry point.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>

int main(int argc, char** argv) {
    // The suite talks to peers through sockets and pipes: a peer that goes away early must
    // make a write fail and a check report it, not kill the whole run with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    doctest::Context context;
    context.applyCommandLine(argc, argv);
    return context.run();
}
