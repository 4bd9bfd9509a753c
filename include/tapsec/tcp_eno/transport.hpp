// TcpEno: a TCP connection whose TEP negotiates through TCP-ENO options. It is the
// transport that offers `dependency::tcp_option_negotiation` (survey 4.6.3), so only it
// can carry Secure<TcpcryptHandshake, TcpcryptRecord, TcpEno>.
//
// The carrier of the options is the stream preamble (tcp_eno/preamble.hpp): Linux keeps
// TCP option space to the kernel, so the option bytes travel as framed segments at the
// start of the stream, written and read by the TEP's engine in band. A user-space TCP on
// a TUN device, which would put kind 69 into real SYNs, is not implemented (docs/tcpcrypt.md).
#pragma once

#include "../transport/tcp.hpp"
#include "option.hpp"
#include "preamble.hpp"

namespace tapsec {

class TcpEno : public Tcp {
public:
    static constexpr std::string_view name = "TCP with TCP-ENO (options in a stream preamble)";
    using offers = dependencies<dependency::reliable_byte_stream, dependency::tcp_option_negotiation>;
    /// Where the ENO option bytes travel: the only carrier implemented.
    enum class OptionCarrier { stream_preamble };
    static constexpr OptionCarrier carrier = OptionCarrier::stream_preamble;

    explicit TcpEno(Tcp tcp) : Tcp(std::move(tcp)) {}

    static Result<TcpEno> connect(const std::string& host, std::uint16_t port,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        auto tcp = Tcp::connect(host, port, timeout);
        if (!tcp) return tcp.error();
        return TcpEno(std::move(*tcp));
    }
};

/// Accepts TcpEno connections.
class TcpEnoListener {
public:
    static Result<TcpEnoListener> bind(const std::string& address, std::uint16_t port) {
        auto l = TcpListener::bind(address, port);
        if (!l) return l.error();
        return TcpEnoListener(std::move(*l));
    }
    Result<TcpEno> accept(std::chrono::milliseconds timeout = std::chrono::hours(24)) {
        auto tcp = listener_.accept(timeout);
        if (!tcp) return tcp.error();
        return TcpEno(std::move(*tcp));
    }
    std::uint16_t port() const { return listener_.port(); }

private:
    explicit TcpEnoListener(TcpListener l) : listener_(std::move(l)) {}
    TcpListener listener_;
};

}  // namespace tapsec
