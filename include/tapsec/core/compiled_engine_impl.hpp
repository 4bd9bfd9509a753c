// The definitions behind CompiledEngine (compiled_engine.hpp): each member forwards to
// the real engine. Included only by the tapsec::compiled library's sources
// (src/compiled_<protocol>.cpp), next to the full protocol and provider headers; a
// program never includes it.
#pragma once

#include <utility>

#include "compiled_engine.hpp"
#include "secure.hpp"

namespace tapsec {

template <class H, class R, class C>
struct CompiledEngine<H, R, C>::Impl {
    using Engine = typename H::template engine<R, C>;
    Engine engine;
    Impl(Role role, const Config& config) : engine(role, config) {}
};

/// The library's own check that a handle offers exactly what its engine has, and that
/// the provider rules (which a program's translation unit cannot check: the provider is
/// incomplete there) hold. Instantiated by TAPSEC_COMPILED_COMPOSITION.
template <class H, class R, class T, class C>
constexpr bool compiled_composition_checked() {
    using Engine = typename H::template engine<R, C>;
    using caps = compiled_capabilities<H, R, C>;
    // Every rule of core/composition.hpp, the provider rules included (InLibrary).
    static_assert(rules::first_broken<H, R, T, C, /*InLibrary=*/true>() == rules::Id::none,
                  "tapsec: a compiled composition must satisfy every composition rule");
    static_assert(SansIoEngine<Engine>);
    static_assert(caps::update_keys == requires(Engine& e) { e.update_keys(true, Instant{}); },
                  "tapsec: compiled_capabilities::update_keys disagrees with the engine");
    static_assert(caps::export_keying_material ==
                      requires(const Engine& e) { e.export_keying_material(std::string_view{}, ByteView{}, 0); },
                  "tapsec: compiled_capabilities::export_keying_material disagrees with the engine");
    static_assert(caps::send_early_data == requires(Engine& e) { e.send_early_data(ByteView{}, Instant{}); },
                  "tapsec: compiled_capabilities::send_early_data disagrees with the engine");
    static_assert(caps::caller_buffer == CallerBufferEngine<Engine>,
                  "tapsec: compiled_capabilities::caller_buffer disagrees with the engine");
    static_assert(caps::view_receive == ViewReceiveEngine<Engine>,
                  "tapsec: compiled_capabilities::view_receive disagrees with the engine");
    return true;
}

template <class H, class R, class C>
CompiledEngine<H, R, C>::CompiledEngine(Role role, const Config& config)
    : impl_(std::make_unique<Impl>(role, config)) {}
template <class H, class R, class C>
CompiledEngine<H, R, C>::CompiledEngine(CompiledEngine&&) noexcept = default;
template <class H, class R, class C>
CompiledEngine<H, R, C>& CompiledEngine<H, R, C>::operator=(CompiledEngine&&) noexcept = default;
template <class H, class R, class C>
CompiledEngine<H, R, C>::~CompiledEngine() = default;

template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::start(Instant now) { return impl_->engine.start(now); }
template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::receive(ByteView in, const Endpoint& from, Instant now) {
    return impl_->engine.receive(in, from, now);
}
template <class H, class R, class C>
std::optional<Transmit> CompiledEngine<H, R, C>::poll_transmit() { return impl_->engine.poll_transmit(); }
template <class H, class R, class C>
std::optional<Bytes> CompiledEngine<H, R, C>::poll_application_data() {
    return impl_->engine.poll_application_data();
}
template <class H, class R, class C>
std::optional<Event> CompiledEngine<H, R, C>::poll_event() { return impl_->engine.poll_event(); }
template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::send(ByteView data, Instant now) { return impl_->engine.send(data, now); }
template <class H, class R, class C>
std::optional<Instant> CompiledEngine<H, R, C>::next_timeout() const { return impl_->engine.next_timeout(); }
template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::on_timeout(Instant now) { return impl_->engine.on_timeout(now); }
template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::close(Instant now) { return impl_->engine.close(now); }
template <class H, class R, class C>
bool CompiledEngine<H, R, C>::is_established() const { return impl_->engine.is_established(); }
template <class H, class R, class C>
bool CompiledEngine<H, R, C>::is_closed() const { return impl_->engine.is_closed(); }
template <class H, class R, class C>
SessionInfo CompiledEngine<H, R, C>::session_info() const { return impl_->engine.session_info(); }

template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::update_keys(bool request_peer_update, Instant now)
    requires(compiled_capabilities<H, R, C>::update_keys)
{
    return impl_->engine.update_keys(request_peer_update, now);
}
template <class H, class R, class C>
Result<SecretBytes> CompiledEngine<H, R, C>::export_keying_material(std::string_view label, ByteView context,
                                                                    std::size_t length) const
    requires(compiled_capabilities<H, R, C>::export_keying_material)
{
    return impl_->engine.export_keying_material(label, context, length);
}
template <class H, class R, class C>
std::error_code CompiledEngine<H, R, C>::send_early_data(ByteView data, Instant now)
    requires(compiled_capabilities<H, R, C>::send_early_data)
{
    return impl_->engine.send_early_data(data, now);
}
template <class H, class R, class C>
std::optional<TransmitInfo> CompiledEngine<H, R, C>::poll_transmit(MutableByteView out)
    requires(compiled_capabilities<H, R, C>::caller_buffer)
{
    return impl_->engine.poll_transmit(out);
}
template <class H, class R, class C>
std::optional<ByteView> CompiledEngine<H, R, C>::poll_plaintext()
    requires(compiled_capabilities<H, R, C>::view_receive)
{
    return impl_->engine.poll_plaintext();
}

}  // namespace tapsec

/// In a src/compiled_<protocol>.cpp: checks the composition with its transport and
/// instantiates its engine handle.
#define TAPSEC_COMPILED_COMPOSITION(H, R, T, C)                                    \
    static_assert(::tapsec::compiled_composition_checked<H, R, T, C>());           \
    template class ::tapsec::CompiledEngine<H, R, C>
