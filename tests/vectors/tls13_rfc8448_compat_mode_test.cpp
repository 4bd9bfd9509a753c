// RFC 8448 Section 7, "Compatibility Mode" (TLS_AES_128_GCM_SHA256, X25519): the
// middlebox-compatible handshake of RFC 8446 D.4, with a legacy session id and a
// change_cipher_spec record from each side. The CCS records are framed in plaintext
// byte for byte; the key schedule and protected records are checked as for Section 3.
// The trace below is the RFC's text (tls13_rfc8448_extract.py rfc8448.txt 7).
#include "support/providers.hpp"
#include "tls13_rfc8448_trace.hpp"

namespace tls13_rfc8448_compat_mode_test {

using namespace rfc8448;

const Trace section7 = {
    {"client", "create an ephemeral x25519 key pair:", {
        {"private key", "c769715a4043e6df463c112559127ebb5082266325205ddfd12e942b563dbed1"},
        {"public key", "f202d8341fd355fcbea0918f1bff8ea9c0758bba29105fce18ad7edbb1f2e353"},
    }},
    {"client", "construct a ClientHello handshake message", {
        {"ClientHello", "010000dc030334be3c0e652c61b1090c0a1e6980933aafdbead07e5ab9a6215aae7a2cd28fa5208e4c8896fb27883942"
         "4e5876df5ff22cdbb6a070ee4801a7c822d04a7648d77c00061301130313020100008d0000000b000900000673657276"
         "6572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020f202d8341fd355"
         "fcbea0918f1bff8ea9c0758bba29105fce18ad7edbb1f2e353002b0003020304000d0020001e04030503060302030804"
         "0805080604010501060102010402050206020202002d00020101001c00024001"},
    }},
    {"client", "send handshake record:", {
        {"payload", "010000dc030334be3c0e652c61b1090c0a1e6980933aafdbead07e5ab9a6215aae7a2cd28fa5208e4c8896fb27883942"
         "4e5876df5ff22cdbb6a070ee4801a7c822d04a7648d77c00061301130313020100008d0000000b000900000673657276"
         "6572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020f202d8341fd355"
         "fcbea0918f1bff8ea9c0758bba29105fce18ad7edbb1f2e353002b0003020304000d0020001e04030503060302030804"
         "0805080604010501060102010402050206020202002d00020101001c00024001"},
        {"complete record", "16030100e0010000dc030334be3c0e652c61b1090c0a1e6980933aafdbead07e5ab9a6215aae7a2cd28fa5208e4c8896"
         "fb278839424e5876df5ff22cdbb6a070ee4801a7c822d04a7648d77c00061301130313020100008d0000000b00090000"
         "06736572766572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020f202"
         "d8341fd355fcbea0918f1bff8ea9c0758bba29105fce18ad7edbb1f2e353002b0003020304000d0020001e0403050306"
         "03020308040805080604010501060102010402050206020202002d00020101001c00024001"},
    }},
    {"server", "extract secret \"early\":", {
        {"salt", ""},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
    }},
    {"server", "create an ephemeral x25519 key pair:", {
        {"private key", "bef36605ed9acf037b60e94fad08bd2efdd3783e93ff244ac64aeb251db3a322"},
        {"public key", "efe3845b1e8f27cd3ac6d080d0767044c612a141f2194fe74aec61b9af5df26a"},
    }},
    {"server", "construct a ServerHello handshake message", {
        {"ServerHello", "020000760303a46b7d819906bd95d1ab068ae1de21ba62828d34d34294d18434814914d2348d208e4c8896fb27883942"
         "4e5876df5ff22cdbb6a070ee4801a7c822d04a7648d77c130100002e00330024001d0020efe3845b1e8f27cd3ac6d080"
         "d0767044c612a141f2194fe74aec61b9af5df26a002b00020304"},
    }},
    {"server", "send handshake record:", {
        {"payload", "020000760303a46b7d819906bd95d1ab068ae1de21ba62828d34d34294d18434814914d2348d208e4c8896fb27883942"
         "4e5876df5ff22cdbb6a070ee4801a7c822d04a7648d77c130100002e00330024001d0020efe3845b1e8f27cd3ac6d080"
         "d0767044c612a141f2194fe74aec61b9af5df26a002b00020304"},
        {"complete record", "160303007a020000760303a46b7d819906bd95d1ab068ae1de21ba62828d34d34294d18434814914d2348d208e4c8896"
         "fb278839424e5876df5ff22cdbb6a070ee4801a7c822d04a7648d77c130100002e00330024001d0020efe3845b1e8f27"
         "cd3ac6d080d0767044c612a141f2194fe74aec61b9af5df26a002b00020304"},
    }},
    {"server", "send change_cipher_spec record:", {
        {"payload", "01"},
        {"complete record", "140303000101"},
    }},
    {"server", "derive secret for handshake \"tls13 derived\":", {
        {"PRK", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"},
    }},
    {"server", "extract secret \"handshake\":", {
        {"salt", "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"},
        {"IKM", "03ccd453fcd1e47d15e0caacac410ad69b8256e211b54092914d2511d1e34214"},
        {"secret", "1af2e5ed37e8503cc986ac7317e1d9ec44a33492f129f3c5099520c32ac24835"},
    }},
    {"server", "derive secret \"tls13 c hs traffic\":", {
        {"PRK", "1af2e5ed37e8503cc986ac7317e1d9ec44a33492f129f3c5099520c32ac24835"},
        {"hash", "bbec9f475d5dd0f0c86ebe45a259016e0f5c8e0565492d4706b34fa2dc98f5c9"},
        {"info", "002012746c7331332063206873207472616666696320bbec9f475d5dd0f0c86ebe45a259016e0f5c8e0565492d4706b3"
         "4fa2dc98f5c9"},
        {"expanded", "dbc417fdd9f3e132aafb01d0350ba621c62b132dc16a03c904785b538b248d51"},
    }},
    {"server", "derive secret \"tls13 s hs traffic\":", {
        {"PRK", "1af2e5ed37e8503cc986ac7317e1d9ec44a33492f129f3c5099520c32ac24835"},
        {"hash", "bbec9f475d5dd0f0c86ebe45a259016e0f5c8e0565492d4706b34fa2dc98f5c9"},
        {"info", "002012746c7331332073206873207472616666696320bbec9f475d5dd0f0c86ebe45a259016e0f5c8e0565492d4706b3"
         "4fa2dc98f5c9"},
        {"expanded", "efd7896de997f50a30ab315f7e85eba9f6e79f5afd4addd887dfd76ec69bc68c"},
    }},
    {"server", "derive secret for master \"tls13 derived\":", {
        {"PRK", "1af2e5ed37e8503cc986ac7317e1d9ec44a33492f129f3c5099520c32ac24835"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "ffb77c4549a00b7668996769be722ec7c69bd2324380f5a183cb55bb3e665945"},
    }},
    {"server", "extract secret \"master\":", {
        {"salt", "ffb77c4549a00b7668996769be722ec7c69bd2324380f5a183cb55bb3e665945"},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "02d12ee8ce993b6fcd9876510eacc4462731bb9ba9f5a44b531bed70b741c2d5"},
    }},
    {"server", "derive write traffic keys for handshake data:", {
        {"PRK", "efd7896de997f50a30ab315f7e85eba9f6e79f5afd4addd887dfd76ec69bc68c"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "e3b885e09e524220e08bd0d9cf97e4eb"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "9ba0ca36e5cc3d4786474886"},
    }},
    {"server", "construct a EncryptedExtensions handshake message", {
        {"EncryptedExtensions", "080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000"},
    }},
    {"server", "construct a Certificate handshake message", {
        {"Certificate", "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a"
         "06035504031303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a"
         "0603550403130372736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d98"
         "0836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced4312"
         "0998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d0"
         "3e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b060355"
         "1d0f0404030205a0300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f"
         "8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102"
         "702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8"
         "f8961229ac9187b42b4de10000"},
    }},
    {"server", "construct a CertificateVerify handshake message", {
        {"CertificateVerify", "0f0000840804008011bfdd9159d16448b541587e7184b04d02fcfb90074bf2a02cb4169520f346863b92d6a63ee3caa4"
         "f84be9feecd950a297488cd40be68779c1b3014ed054404aef41f4452883ade9ca27d71ff8e7dcdf67335afb2794034e"
         "63b2f376148c161f4a3808276198742251802a06fd6e770aeb3d92a7215d1a87c0cbe0998b5c6584"},
    }},
    {"server", "calculate finished \"tls13 finished\":", {
        {"PRK", "efd7896de997f50a30ab315f7e85eba9f6e79f5afd4addd887dfd76ec69bc68c"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "2d5f09047a335442f489a568454b200e04811e07898cfb09f837414caabbe591"},
        {"finished", "fcf0369f5443c9831f2ae496012f4673ebf83f6b4f9ac5685b9453a39de16954"},
    }},
    {"server", "construct a Finished handshake message", {
        {"Finished", "14000020fcf0369f5443c9831f2ae496012f4673ebf83f6b4f9ac5685b9453a39de16954"},
    }},
    {"server", "send handshake record:", {
        {"payload", "080000240022000a00140012001d00170018001901000101010201030104001c00024001000000000b0001b9000001b5"
         "0001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a0603550403130372"
         "7361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372"
         "736130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c"
         "0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0cc"
         "b0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a"
         "8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0"
         "300d06092a864886f70d01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594"
         "365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1"
         "fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b4"
         "2b4de100000f0000840804008011bfdd9159d16448b541587e7184b04d02fcfb90074bf2a02cb4169520f346863b92d6"
         "a63ee3caa4f84be9feecd950a297488cd40be68779c1b3014ed054404aef41f4452883ade9ca27d71ff8e7dcdf67335a"
         "fb2794034e63b2f376148c161f4a3808276198742251802a06fd6e770aeb3d92a7215d1a87c0cbe0998b5c6584140000"
         "20fcf0369f5443c9831f2ae496012f4673ebf83f6b4f9ac5685b9453a39de16954"},
        {"complete record", "17030302a265e9f689c435af5c9ce4a4fa074ea97058807a44691e333da3c809c124ee21613f220d4646a29fed8be3d4"
         "fd41c22fb8b8bb9d5024fac1f7c62a6e6f5c7c37dba5160974fec4d8875ff23bce6190d36a1d391bad6518277e138771"
         "7e7fd06c7c28b765c1e963b3fa1b20696dc6505e9a9f3e4b702d0e8fc116e61fd6c4ee4f4cd461544f5e2f377f312684"
         "3483b455a7eff846b019aecc0c78bf5910d375309d3298892837776211bfb819190f8831457c8b04c2097f568fa14af4"
         "32bfdca3d5cf66d32b7222c6bf8986b9de7c8f25a868c512710ae987b4e35e5ab94646d3772e7cead903044cc3ecab6b"
         "c1b7fe1a50972de4e45c0df6bfc77d46b4c26d2d67d23d823dd2013fb441a0cf72fbd161d3668359fd03e284893d6a3b"
         "6b93f60d92970233145fb135dec97fa3f3e8984e8160f196bda250858a080fa4bf2811e65c30e07e8e75e1f763ec0715"
         "57c359a2b051e24612be79bcb2682c1268516f657669ec060834ca09cdf9e9cd21bc8a5e020c8a654da5e712670e9e34"
         "80c7f87f55d1af4533665d9471e74ad1cf977ac357fd6bab670d909a2d9df674cc2c7f8ef2e1f7aff4c5e0339b67815b"
         "404e0c2b5c52b53b8c58364dbc1b7f261891f7d978b9e5544f2cf5af65a76e219244e5079d4d310bd1a34bd01b5d609f"
         "6bfac3d2c13c9b7cfe0bcb85942aadee742c787b5ce0d9ed521b1a9849ce94752c58c14ccff5a93eec3c697d51b6062e"
         "073797919097fb5127dcd2c2b3f6d81d9ea2af9bfce15924e1f4d63ba97f0ba765d3c5cca1b2656fdd786e2e3371c0cc"
         "77385586763c35946dc174687d972cfd58d4414a1b2a4b5eaf9980f3bae9273af07f2bf0219e599055467569922c045c"
         "853cfc449fee8cb6d8a05a5e18906b0211e0e38dbf2896e48c1b43a3c8face98664726d3fc6c2c9958d4057ef6314712"
         "76ad241eeeef7c"},
    }},
    {"server", "derive secret \"tls13 c ap traffic\":", {
        {"PRK", "02d12ee8ce993b6fcd9876510eacc4462731bb9ba9f5a44b531bed70b741c2d5"},
        {"hash", "3b3713edcfe9394bed22153af622e628722539ba9188ae6f0411c21b21e8c8f5"},
        {"info", "002012746c73313320632061702074726166666963203b3713edcfe9394bed22153af622e628722539ba9188ae6f0411"
         "c21b21e8c8f5"},
        {"expanded", "67f043777111d2665b13f19a58d5403c856eb83d38c5ed0aeac7cfc5478ec79f"},
    }},
    {"server", "derive secret \"tls13 s ap traffic\":", {
        {"PRK", "02d12ee8ce993b6fcd9876510eacc4462731bb9ba9f5a44b531bed70b741c2d5"},
        {"hash", "3b3713edcfe9394bed22153af622e628722539ba9188ae6f0411c21b21e8c8f5"},
        {"info", "002012746c73313320732061702074726166666963203b3713edcfe9394bed22153af622e628722539ba9188ae6f0411"
         "c21b21e8c8f5"},
        {"expanded", "7015c814571d5544add9276e8b9e2a5abef671e38fe8e9206d53db0450357f8d"},
    }},
    {"server", "derive secret \"tls13 exp master\":", {
        {"PRK", "02d12ee8ce993b6fcd9876510eacc4462731bb9ba9f5a44b531bed70b741c2d5"},
        {"hash", "3b3713edcfe9394bed22153af622e628722539ba9188ae6f0411c21b21e8c8f5"},
        {"info", "002010746c73313320657870206d6173746572203b3713edcfe9394bed22153af622e628722539ba9188ae6f0411c21b"
         "21e8c8f5"},
        {"expanded", "6d7dfbd3527bee913d952353fc4a9404d0bda44afb23a1652cdf98fd4235e248"},
    }},
    {"server", "derive write traffic keys for application data:", {
        {"PRK", "7015c814571d5544add9276e8b9e2a5abef671e38fe8e9206d53db0450357f8d"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "79653a6224820995b6986e4f7ba71a47"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "a0c3b32b20914e96a2dc886c"},
    }},
    {"server", "derive read traffic keys for handshake data:", {
        {"PRK", "dbc417fdd9f3e132aafb01d0350ba621c62b132dc16a03c904785b538b248d51"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "333c632464390b0d895f18ff39d4a201"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "d5c55f245daf6baa5ca3ad9f"},
    }},
    {"client", "extract secret \"early\" (same as server early secret)", {
    }},
    {"client", "derive secret for handshake \"tls13 derived\":", {
        {"PRK", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba"},
    }},
    {"client", "extract secret \"handshake\" (same as server handshake secret)", {
    }},
    {"client", "derive secret \"tls13 c hs traffic\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 s hs traffic\" (same as server)", {
    }},
    {"client", "derive secret for master \"tls13 derived\" (same as server)", {
    }},
    {"client", "extract secret \"master\" (same as server master secret)", {
    }},
    {"client", "derive read traffic keys for handshake data (same as server handshake data write traffic keys)", {
    }},
    {"client", "calculate finished \"tls13 finished\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 c ap traffic\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 s ap traffic\" (same as server)", {
    }},
    {"client", "derive secret \"tls13 exp master\" (same as server)", {
    }},
    {"client", "send change_cipher_spec record:", {
        {"payload", "01"},
        {"complete record", "140303000101"},
    }},
    {"client", "derive write traffic keys for handshake data (same as server handshake data read traffic keys)", {
    }},
    {"client", "derive read traffic keys for application data (same as server application data write traffic keys)", {
    }},
    {"client", "calculate finished \"tls13 finished\":", {
        {"PRK", "dbc417fdd9f3e132aafb01d0350ba621c62b132dc16a03c904785b538b248d51"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "172e26d9076adefc680a346037ed4552783490bc3f27370dc7964f46bb161ee4"},
        {"finished", "6deb86eb532e876484b1ea8aec04c644fab9a704b82745ec42c134497c4c77ad"},
    }},
    {"client", "construct a Finished handshake message", {
        {"Finished", "140000206deb86eb532e876484b1ea8aec04c644fab9a704b82745ec42c134497c4c77ad"},
    }},
    {"client", "send handshake record:", {
        {"payload", "140000206deb86eb532e876484b1ea8aec04c644fab9a704b82745ec42c134497c4c77ad"},
        {"complete record", "170303003558e1c3b32a1a43a84262f4cf7b4933ad8538ac4e4d61394b7975fc9a314487bf758330499c6a98af6d5ac8"
         "d1f0c3372d49dafe158b"},
    }},
    {"client", "derive write traffic keys for application data:", {
        {"PRK", "67f043777111d2665b13f19a58d5403c856eb83d38c5ed0aeac7cfc5478ec79f"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "d8e76371121e0f6b9d251920aaec81de"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "847ed0c53b56fc51c33b8f6b"},
    }},
    {"client", "derive secret \"tls13 res master\":", {
        {"PRK", "02d12ee8ce993b6fcd9876510eacc4462731bb9ba9f5a44b531bed70b741c2d5"},
        {"hash", "e6a89d8290c74b2f8a85b5ce17e310c2d8ecb2d29660a8023a26fdb6a884bca7"},
        {"info", "002010746c73313320726573206d617374657220e6a89d8290c74b2f8a85b5ce17e310c2d8ecb2d29660a8023a26fdb6"
         "a884bca7"},
        {"expanded", "35b25b160816f931d775cc170499d378e11f4b63b126c156e84bb06bdc3de0fc"},
    }},
    {"server", "calculate finished \"tls13 finished\" (same as client)", {
    }},
    {"server", "derive read traffic keys for application data (same as client application data write traffic keys)", {
    }},
    {"server", "derive secret \"tls13 res master\" (same as client)", {
    }},
    {"client", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "17030300139ba55d98fb07e20ffa7fccbdf509a7e4fba328"},
    }},
    {"server", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013e0099018f7175a39399e38536cd834e214fffb"},
    }},
};

void check_ccs_record(const Step& s) {
    CAPTURE(std::string(s.who) + ": " + s.title);
    RecordLayer<> layer;  // keyed or not, CCS is plaintext: key it to show that
    REQUIRE_FALSE(layer.install_write({&TLS_AES_128_GCM_SHA256, SecretBytes(32, 1)}));
    Bytes wire;
    REQUIRE_FALSE(layer.write(ContentType::change_cipher_spec, field(s, "payload"), wire));
    CHECK(hex(wire) == hex(field(s, "complete record")));
    RecordLayer<> reader;
    REQUIRE_FALSE(reader.install_read({&TLS_AES_128_GCM_SHA256, SecretBytes(32, 1)}));
    REQUIRE_FALSE(reader.feed(wire));
    auto r = reader.next();
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK((*r)->type == ContentType::change_cipher_spec);
    CHECK_FALSE((*r)->protected_record);
}


TEST_CASE_TEMPLATE("RFC 8448 section 7: every HKDF step recomputed from its printed inputs", Crypto, TAPSEC_TEST_PROVIDERS) {
    CHECK(check_every_hkdf_step<Crypto>(section7, TLS_AES_128_GCM_SHA256) == 18);
}

TEST_CASE_TEMPLATE("RFC 8448 section 7: compatibility mode key schedule and records, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const auto& t = section7;

    const auto client_key = Crypto::KeyShare::from_x25519_private(value(t, "client", "create an ephemeral x25519", "private key"));
    REQUIRE(client_key.ok());
    const auto server_key = Crypto::KeyShare::from_x25519_private(value(t, "server", "create an ephemeral x25519", "private key"));
    REQUIRE(server_key.ok());
    CHECK(hex(server_key->public_key()) == hex(value(t, "server", "create an ephemeral x25519", "public key")));
    auto shared = client_key->agree(server_key->public_key());
    REQUIRE(shared.ok());

    check_plaintext_record(step(t, "client", "send handshake record", 0), 0x0301);
    check_plaintext_record(step(t, "server", "send handshake record", 0), 0x0303);
    check_ccs_record(step(t, "server", "send change_cipher_spec record"));
    check_ccs_record(step(t, "client", "send change_cipher_spec record"));

    Transcript<Crypto> transcript;  // CCS records are not handshake messages: not hashed
    transcript.add(value(t, "client", "construct a ClientHello", "ClientHello"));
    transcript.set_hash(suite.hash);
    transcript.add(value(t, "server", "construct a ServerHello", "ServerHello"));
    check_full_handshake_after_hello(t, suite, transcript, *shared, {"EncryptedExtensions", "Certificate", "CertificateVerify"},
                                     {}, 1, 1);
}

}  // namespace tls13_rfc8448_compat_mode_test
