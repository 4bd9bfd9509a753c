// POSIX socket plumbing shared by Tcp and Udp: an owning descriptor and a
// deadline-bounded wait. Nothing protocol-specific.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>
#include <utility>

#include "../core/engine.hpp"
#include "../core/errors.hpp"

namespace tapsec::transport_detail {

class FileDescriptor {
public:
    FileDescriptor() = default;
    explicit FileDescriptor(int fd) : fd_(fd) {}
    FileDescriptor(FileDescriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    FileDescriptor& operator=(FileDescriptor&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~FileDescriptor() { reset(); }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

inline std::error_code last_error() { return {errno, std::generic_category()}; }

/// Waits until `fd` is ready for `events` or `deadline` passes (Errc::timed_out).
inline std::error_code wait_for(int fd, short events, Instant deadline) {
    for (;;) {
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (remaining < 0) remaining = 0;
        if (remaining > 1'000'000'000) remaining = 1'000'000'000;
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(remaining));
        if (r > 0) return {};
        if (r == 0) return make_error_code(Errc::timed_out);
        if (errno != EINTR) return last_error();
    }
}

}  // namespace tapsec::transport_detail
