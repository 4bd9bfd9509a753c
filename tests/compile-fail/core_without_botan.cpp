// core/ and the provider seam include no Botan header: this file is compiled with
// only tapsec's and Boost's include directories (see CMakeLists.txt), so any Botan
// include reached from here fails to compile. The default provider is only declared.
#include <tapsec/core/bytes.hpp>
#include <tapsec/core/composition.hpp>
#include <tapsec/core/config.hpp>
#include <tapsec/core/dependencies.hpp>
#include <tapsec/core/endpoint.hpp>
#include <tapsec/core/engine.hpp>
#include <tapsec/core/errors.hpp>
#include <tapsec/core/features.hpp>
#include <tapsec/core/replay_window.hpp>
#include <tapsec/core/secure.hpp>
#include <tapsec/core/wire.hpp>
#include <tapsec/crypto/provider.hpp>

#include <type_traits>

#ifdef BOTAN_VERSION_MAJOR
#error "a core header included Botan"
#endif

// Named, not defined: core/ needs no more of the default provider than its name.
static_assert(std::is_same_v<tapsec::crypto::DefaultProvider, tapsec::crypto::Botan2>);

int main() {}
