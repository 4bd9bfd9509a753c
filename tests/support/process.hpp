// Test support: run third-party peers (openssl, gnutls, wireguard-go, ...) as child
// processes with a pipe to stdin, output captured to a file, bounded waits, and
// cleanup by PID (the child's whole process group) when the handle goes away.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace tapsec::test {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "tapsec-test-XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

/// How many times `needle` occurs in `text` (without overlaps).
inline std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
    return n;
}

inline void write_file(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary);
    out << data;
}

/// A child process. stdout and stderr go to `log_path`; stdin is a pipe we hold.
class Process {
public:
    Process(std::vector<std::string> argv, std::string log_path) : log_path_(std::move(log_path)) {
        int in_pipe[2];
        if (::pipe2(in_pipe, O_CLOEXEC) != 0) return;
        pid_ = ::fork();
        if (pid_ == 0) {
            ::setpgid(0, 0);
            ::dup2(in_pipe[0], 0);
            int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            ::dup2(log, 1);
            ::dup2(log, 2);
            std::vector<char*> args;
            for (auto& a : argv) args.push_back(a.data());
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
        ::setpgid(pid_, pid_);
        ::close(in_pipe[0]);
        stdin_fd_ = in_pipe[1];
    }
    ~Process() { kill(); }
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    void write_stdin(const std::string& data) {
        if (stdin_fd_ >= 0) [[maybe_unused]] auto n = ::write(stdin_fd_, data.data(), data.size());
    }
    void close_stdin() {
        if (stdin_fd_ >= 0) ::close(stdin_fd_);
        stdin_fd_ = -1;
    }
    std::string output() const { return read_file(log_path_); }

    /// Waits until `done(output())` holds (true) or `timeout` passes / the child dies (false).
    template <class Predicate>
    bool wait_until(Predicate done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            if (done(output())) return true;
            if (!running()) return done(output());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return false;
    }
    /// Waits until the output contains `text`.
    bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_until([&](const std::string& out) { return out.find(text) != std::string::npos; }, timeout);
    }
    /// Waits until `text` occurs at least `times` times in the output.
    bool wait_for_count(const std::string& text, std::size_t times,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_until([&](const std::string& out) { return count_of(out, text) >= times; }, timeout);
    }

    bool running() {
        if (pid_ <= 0 || exited_) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            exited_ = true;
            exit_status_ = status;
            return false;
        }
        return true;
    }

    /// Waits for exit; kills the process group after `timeout`. Returns the exit code (or -signal).
    int wait(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (running() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (running()) kill();
        if (WIFEXITED(exit_status_)) return WEXITSTATUS(exit_status_);
        return -WTERMSIG(exit_status_);
    }

    void kill() {
        close_stdin();
        if (pid_ > 0 && !exited_) {
            ::kill(-pid_, SIGTERM);
            for (int i = 0; i < 50 && running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (running()) {
                ::kill(-pid_, SIGKILL);
                int status = 0;
                ::waitpid(pid_, &status, 0);
                exited_ = true;
                exit_status_ = status;
            }
        }
    }

private:
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    std::string log_path_;
    bool exited_ = false;
    int exit_status_ = 0;
};

/// Runs a command to completion (shell syntax), returning its exit code.
inline int run(const std::string& command) { return std::system(command.c_str()); }

/// A TCP/UDP port that was free a moment ago (bind to 0, read, release).
inline std::uint16_t free_port(int type = SOCK_STREAM) {
    int fd = ::socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// True when `program` is on PATH (interop tests report a missing peer as a failure
/// with this message, never as a silent pass).
inline bool have_program(const std::string& program) {
    return run("command -v " + program + " >/dev/null 2>&1") == 0;
}

/// A network namespace of the test's own, with loopback up; deleted on destruction.
class NetworkNamespace {
public:
    explicit NetworkNamespace(const std::string& stem) {
        name_ = stem + "-" + std::to_string(::getpid());
        run("ip netns del " + name_ + " 2>/dev/null");
        ok_ = run("ip netns add " + name_) == 0 && run("ip netns exec " + name_ + " ip link set lo up") == 0;
    }
    ~NetworkNamespace() {
        if (!name_.empty()) run("ip netns del " + name_ + " 2>/dev/null");
    }
    NetworkNamespace(const NetworkNamespace&) = delete;
    NetworkNamespace& operator=(const NetworkNamespace&) = delete;
    bool ok() const { return ok_; }
    const std::string& name() const { return name_; }
    /// argv prefix to run a program inside the namespace.
    std::vector<std::string> exec(std::vector<std::string> argv) const {
        std::vector<std::string> out{"ip", "netns", "exec", name_};
        out.insert(out.end(), argv.begin(), argv.end());
        return out;
    }

private:
    std::string name_;
    bool ok_ = false;
};

}  // namespace tapsec::test
