// `--provider botan|openssl`: one mechanism for every command whose composition takes a
// crypto provider (Secure<>'s fourth argument). The first provider built in is the
// default: OpenSSL's libcrypto where tapsec was built with it (the faster one,
// docs/crypto-providers.md), else Botan. Compositions on Botan's own TLS stack (tls12,
// dtls12) take no provider and refuse `--provider openssl` with refuse_provider_option.
#pragma once

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include <tapsec/crypto/botan.hpp>
#if TAPSEC_HAVE_OPENSSL_PROVIDER
#include <tapsec/crypto/openssl.hpp>
#endif

#include "registry.hpp"

namespace tapsec::cli {

/// A provider this command was built with.
struct ProviderChoice {
    const char* option;     // --provider NAME
    std::string_view name;  // Crypto::name, printed in summaries and --version
};
#if TAPSEC_HAVE_OPENSSL_PROVIDER
inline constexpr ProviderChoice built_in_providers[] = {{"openssl", crypto::OpenSsl3::name}, {"botan", crypto::Botan2::name}};
#else
inline constexpr ProviderChoice built_in_providers[] = {{"botan", crypto::Botan2::name}};
#endif
inline constexpr const ProviderChoice& default_provider = built_in_providers[0];
#if TAPSEC_HAVE_OPENSSL_PROVIDER
using DefaultProvider = crypto::OpenSsl3;  // what connect, listen and demo use without --provider
#else
using DefaultProvider = crypto::Botan2;
#endif

/// ", provider NAME" for a summary or demo line.
template <class Crypto>
std::string provider_suffix() {
    return ", provider " + std::string(Crypto::name);
}
/// The same for the provider a Secure<> connection runs on.
template <class Connection>
std::string provider_suffix(const Connection&) {
    return provider_suffix<typename Connection::crypto_type>();
}

/// "openssl, botan": the names --provider accepts here.
inline std::string provider_option_names() {
    std::string known;
    for (const auto& p : built_in_providers) known += std::string(known.empty() ? "" : ", ") + p.option;
    return known;
}

/// The usage line every provider-taking command shows, the option name padded to `width`
/// to line up with the command's other options.
inline std::string provider_usage(std::size_t width) {
    std::string option = "--provider NAME";
    option.resize(std::max(width, option.size() + 1), ' ');
    return "  " + option + "crypto provider: " + provider_option_names() + " (default " + default_provider.option + ")\n";
}

/// Runs `body.template operator()<Crypto>()` with the provider `--provider` names (or the
/// default); a name not built in is a usage error (exit 2). With --verbose the choice is
/// announced on stderr as "tapsec: PROTOCOL: provider NAME".
template <class Body>
int with_provider(Arguments& args, Body&& body) {
    const std::string wanted = args.take("--provider").value_or(default_provider.option);
    const bool verbose = args.flags.count("--verbose") != 0;  // read, not consumed: the command takes it too
    auto announce = [&](std::string_view name) {
        if (verbose) std::fprintf(stderr, "tapsec: %s: provider %.*s\n", args.protocol.c_str(), int(name.size()), name.data());
    };
    if (wanted == "botan") {
        announce(crypto::Botan2::name);
        return body.template operator()<crypto::Botan2>();
    }
#if TAPSEC_HAVE_OPENSSL_PROVIDER
    if (wanted == "openssl") {
        announce(crypto::OpenSsl3::name);
        return body.template operator()<crypto::OpenSsl3>();
    }
#endif
    return usage_fail("--provider: '" + wanted + "' is not built into this tapsec (" + provider_option_names() + ")");
}

/// The commands that take --provider (each registers itself next to its ProtocolEntry);
/// `tapsec --version` lists them and says the others run on Botan 2 only.
inline std::set<std::string>& provider_taking_commands() {
    static std::set<std::string> names;
    return names;
}
struct TakesProvider {
    explicit TakesProvider(const std::string& protocol) { provider_taking_commands().insert(protocol); }
};

/// Why the Botan-TLS compositions (tls12, dtls12, dtls-srtp) take no other provider.
inline constexpr const char* botan_tls_stack_reason = "runs on Botan's own TLS stack, which does all of its cryptography";

/// For compositions that run on Botan only (`why` says so): `--provider botan` is accepted
/// (it is what runs), any other name is a usage error saying why.
inline void refuse_provider_option(Arguments& args, const std::string& why) {
    auto wanted = args.take("--provider");
    if (!wanted || *wanted == "botan") return;
    throw UsageError("--provider " + *wanted + ": " + args.protocol + " " + why + " (only --provider botan)");
}

}  // namespace tapsec::cli
