// RFC 8448 Section 3, "Simple 1-RTT Handshake" (TLS_AES_128_GCM_SHA256, X25519):
// every secret of the key schedule, every traffic key and IV, both Finished values, the
// resumption secret and PSK, and every protected record byte for byte.
// The trace below is the RFC's text (tls13_rfc8448_extract.py rfc8448.txt 3).
#include "support/providers.hpp"
#include "tls13_rfc8448_trace.hpp"

namespace tls13_rfc8448_simple_1rtt_test {

using namespace rfc8448;

const Trace section3 = {
    {"client", "create an ephemeral x25519 key pair:", {
        {"private key", "70a1a8f491e82d530542c6d7a8dcd8cfa9e31f59bb336b550b13bfe199f542c5"},
        {"public key", "4cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb1495207236647037"},
    }},
    {"client", "construct a ClientHello handshake message", {
        {"ClientHello", "010000c003036660261ff947cea49cce6cfad687f457cf1b14531ba14131a0e8f309a1d0b9c400000613011303130201"
         "0000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "230000003300260024001d00204cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb1495207236647037002b00"
         "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
         "00024001"},
    }},
    {"client", "send handshake record:", {
        {"payload", "010000c003036660261ff947cea49cce6cfad687f457cf1b14531ba14131a0e8f309a1d0b9c400000613011303130201"
         "0000910000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "230000003300260024001d00204cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb1495207236647037002b00"
         "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
         "00024001"},
        {"complete record", "16030100c4010000c003036660261ff947cea49cce6cfad687f457cf1b14531ba14131a0e8f309a1d0b9c40000061301"
         "13031302010000910000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102"
         "0103010400230000003300260024001d00204cfdfcd178b784bf328cae793b136f2aedce005ff183d7bb149520723664"
         "7037002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00"
         "020101001c00024001"},
    }},
    {"server", "extract secret \"early\":", {
        {"salt", ""},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
    }},
    {"server", "create an ephemeral x25519 key pair:", {
        {"private key", "5aa93ea18f4c5e4a39856f573af4ec1503bad0d5cdabaffc26c1ab4c361f86c8"},
        {"public key", "c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a"},
    }},
    {"server", "construct a ServerHello handshake message", {
        {"ServerHello", "0200005603031274991495cf425857262dde2299342c315afba9b64a87d552515614e01b045d00130100002e00330024"
         "001d0020c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a002b00020304"},
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
        {"IKM", "1bea3fdfd25f94033804b68997a55d1931dc51124ad7f6e28959bb4672e3bd13"},
        {"secret", "f2c66e28ed535dfb8721b7145ca51c8bc058514f79aa881d0d32cbe1341a2e45"},
    }},
    {"server", "derive secret \"tls13 c hs traffic\":", {
        {"PRK", "f2c66e28ed535dfb8721b7145ca51c8bc058514f79aa881d0d32cbe1341a2e45"},
        {"hash", "3d35f3eba0aabf5d9661236e3b5bb938fdc32f409cc27c55499e1f0baa3abd8f"},
        {"info", "002012746c73313320632068732074726166666963203d35f3eba0aabf5d9661236e3b5bb938fdc32f409cc27c55499e"
         "1f0baa3abd8f"},
        {"expanded", "d7c28b57a857e961b5bf3e1d7b18d02757c4f97acb66a23372e5a7f3d0a71e07"},
    }},
    {"server", "derive secret \"tls13 s hs traffic\":", {
        {"PRK", "f2c66e28ed535dfb8721b7145ca51c8bc058514f79aa881d0d32cbe1341a2e45"},
        {"hash", "3d35f3eba0aabf5d9661236e3b5bb938fdc32f409cc27c55499e1f0baa3abd8f"},
        {"info", "002012746c73313320732068732074726166666963203d35f3eba0aabf5d9661236e3b5bb938fdc32f409cc27c55499e"
         "1f0baa3abd8f"},
        {"expanded", "3031e9c2c26ecc154bc36826e87feeff8f4547df52596747b2dcabf92b18fb59"},
    }},
    {"server", "derive secret for master \"tls13 derived\":", {
        {"PRK", "f2c66e28ed535dfb8721b7145ca51c8bc058514f79aa881d0d32cbe1341a2e45"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "6aac276f77177e737a1fe91dcf0d2ec9cb4fcead8690703a15348b5e5220cafa"},
    }},
    {"server", "extract secret \"master\":", {
        {"salt", "6aac276f77177e737a1fe91dcf0d2ec9cb4fcead8690703a15348b5e5220cafa"},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "a12970d9b27a3d59b6ecc1530d284073bd745ddc68d994e7a6ee70881b3d6da6"},
    }},
    {"server", "send handshake record:", {
        {"payload", "0200005603031274991495cf425857262dde2299342c315afba9b64a87d552515614e01b045d00130100002e00330024"
         "001d0020c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a002b00020304"},
        {"complete record", "160303005a0200005603031274991495cf425857262dde2299342c315afba9b64a87d552515614e01b045d0013010000"
         "2e00330024001d0020c7bb6bdfc26350b929a08a41a76ddac210b096868d960c4845987dc3a7fa650a002b00020304"},
    }},
    {"server", "derive write traffic keys for handshake data:", {
        {"PRK", "3031e9c2c26ecc154bc36826e87feeff8f4547df52596747b2dcabf92b18fb59"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "4d15c00e47317fe99c714f8ebd92c4d1"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "18223084735f2f2d8588caaa"},
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
        {"CertificateVerify", "0f00008408040080ace0af8e87d7c63cc9dbe7dcc12ff83bd55df0ccda9bf4e5a0f70100d9bc4d25aa684fd9d347642c"
         "942222526e163e3b0fba312b10e9b67eb0ac9c2be5fef490f81d7827e3bc12fa027ab439e71cc8459c14b94a8f3506ec"
         "44547d6c23e19cc7f9d5e0d1f595108fc240f5b0842c485a321487c4950377a52e917294715567cd"},
    }},
    {"server", "calculate finished \"tls13 finished\":", {
        {"PRK", "3031e9c2c26ecc154bc36826e87feeff8f4547df52596747b2dcabf92b18fb59"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "2456e4d4c3cc526cad20c011327277e2b8834df514fa50db921101293cc627a8"},
        {"finished", "4c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f"},
    }},
    {"server", "construct a Finished handshake message", {
        {"Finished", "140000204c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f"},
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
         "2b4de100000f00008408040080ace0af8e87d7c63cc9dbe7dcc12ff83bd55df0ccda9bf4e5a0f70100d9bc4d25aa684f"
         "d9d347642c942222526e163e3b0fba312b10e9b67eb0ac9c2be5fef490f81d7827e3bc12fa027ab439e71cc8459c14b9"
         "4a8f3506ec44547d6c23e19cc7f9d5e0d1f595108fc240f5b0842c485a321487c4950377a52e917294715567cd140000"
         "204c92b1b256d861a1830167827d3e288d1a76f03484e9ec886d4ff66149cbec2f"},
        {"complete record", "17030302a2d86231e399eee4544f58e5c9ff1d0def3baa470ae2ed0b127c5dd471715673cef74b51fecac0d9d347ce9f"
         "43efe772ad20efddfa5b9a3911760311279599832e856ceba25bdc8071f97228277985b96f4e2b520f48b129bd3f9bb8"
         "e0ba5ad5cb2513b7d9157fab22fbd5862a8631a194b4ece8e31dade9e6d019d5714833de181192b427a10fe4e929f637"
         "d55c3ecf0182191dee94df0cdeed15dcc6f114c5abdcc0626356cfe4dcf011022c0e6a2431d688bbc829fa495bcb0e74"
         "56636b153c9c79a4f8cb083164c5f555ac78b8844a25d8c7b3f40d7226f53e6b6f0976989c70a327b6e7bf5316a20b8d"
         "e99e25ab7d5e2faba2f53ef8f3713995023e678859cde121cf548625d61fe840f0c5749fc65c984c543a139a3185091a"
         "eb9eaca24d269a31501cc506bdf9b620994c8dc4bdc977afd9e971fad42eb1c9d05545fc37164a123233e370bb6afef2"
         "cbf7df710c95a4e20982cca1ebfc67a6ebb82e8ee5910a69ec085598ab497365c408aca90d13feea1d773af9899f9e37"
         "b74189f711ea08a960810c449c141ab4ee2d4958021050e1bc4347fbfddb90e924752f1df76ed1ce7c0038ce1193b0e7"
         "2e056c3e330914cbe656b80bbebf0359bf301e06901974baad55765f186c7b1c1304e1101181629351682a0a96e2a844"
         "2cd65234d55f4dcdc585c3a729aab205590a53a9ce9e4b0e1218f0952cc2806b5f46c59d88a172dac37c9f37afb91cea"
         "61665324b06d3ce79d7465d323ca9cb4ccd8d8adf21eefde6a24f36fe7e022139285de95dd6283e106773d11d07d9bf2"
         "7ca9e9953a0c23730b159ff8aa0086d74e0ba5557257c2f308a55ff54c9c48547886f979fa841b8c2d6cd7a14ef642dd"
         "a832badba34a3554fcd4092d8de04e432ccbdaa4eac28f922a29bd00a7d26f5072a3fa2da1a228394a26a805dee09042"
         "2794fb1476cff0"},
    }},
    {"server", "derive secret \"tls13 c ap traffic\":", {
        {"PRK", "a12970d9b27a3d59b6ecc1530d284073bd745ddc68d994e7a6ee70881b3d6da6"},
        {"hash", "b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf31f7f808e8ce"},
        {"info", "002012746c7331332063206170207472616666696320b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf"
         "31f7f808e8ce"},
        {"expanded", "2dca43b0ae13af89e9533d39b65dd25cc22df9e7afcaf082a76895a4da353b50"},
    }},
    {"server", "derive secret \"tls13 s ap traffic\":", {
        {"PRK", "a12970d9b27a3d59b6ecc1530d284073bd745ddc68d994e7a6ee70881b3d6da6"},
        {"hash", "b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf31f7f808e8ce"},
        {"info", "002012746c7331332073206170207472616666696320b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf"
         "31f7f808e8ce"},
        {"expanded", "49033ff303eef5739d1376cb6d27ebd695733f3c3f617e7fc76d02a6fac6277f"},
    }},
    {"server", "derive secret \"tls13 exp master\":", {
        {"PRK", "a12970d9b27a3d59b6ecc1530d284073bd745ddc68d994e7a6ee70881b3d6da6"},
        {"hash", "b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf31f7f808e8ce"},
        {"info", "002010746c73313320657870206d617374657220b285e2e2beb28adf85ce08112f7c4804cb52347a258edfa9c1bf31f7"
         "f808e8ce"},
        {"expanded", "319b2e433f189fc5a1d81ea369e3af838cbecb0db8fffd5b9ab205afcdb999d9"},
    }},
    {"server", "derive write traffic keys for application data:", {
        {"PRK", "49033ff303eef5739d1376cb6d27ebd695733f3c3f617e7fc76d02a6fac6277f"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "bbe6b3fc9c068c6fb331eca8aa919bfd"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "8057dc46846821a1bea306e0"},
    }},
    {"server", "derive read traffic keys for handshake data:", {
        {"PRK", "d7c28b57a857e961b5bf3e1d7b18d02757c4f97acb66a23372e5a7f3d0a71e07"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "947fe41b60fa1bcf942d456268476e8d"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "962df1fc720f9574f7d22248"},
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
    {"client", "derive write traffic keys for handshake data (same as server handshake data read traffic keys)", {
    }},
    {"client", "derive read traffic keys for application data (same as server application data write traffic keys)", {
    }},
    {"client", "calculate finished \"tls13 finished\":", {
        {"PRK", "d7c28b57a857e961b5bf3e1d7b18d02757c4f97acb66a23372e5a7f3d0a71e07"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "34e8b781a8643a166bc10ec40c6c239f5d76005b35c6f35ff7f01075c36aaa66"},
        {"finished", "80a2c0d6cbc21078dba30affbf091929278edc832db4bfa1c811c9e8c67da9bb"},
    }},
    {"client", "construct a Finished handshake message", {
        {"Finished", "1400002080a2c0d6cbc21078dba30affbf091929278edc832db4bfa1c811c9e8c67da9bb"},
    }},
    {"client", "send handshake record:", {
        {"payload", "1400002080a2c0d6cbc21078dba30affbf091929278edc832db4bfa1c811c9e8c67da9bb"},
        {"complete record", "1703030035ed2b5675d3a8b0d0cedd0519d5e7573c4aa061f42daeecca1c5498e1f063a9c6c5f594e3859f568a0bc5ee"
         "9ee49db23a0999f0aede"},
    }},
    {"client", "derive write traffic keys for application data:", {
        {"PRK", "2dca43b0ae13af89e9533d39b65dd25cc22df9e7afcaf082a76895a4da353b50"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "d92b3e9a88ea7fe2ed69aa9c8b629e91"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "37a828161ead2b6813ad0b13"},
    }},
    {"client", "derive secret \"tls13 res master\":", {
        {"PRK", "a12970d9b27a3d59b6ecc1530d284073bd745ddc68d994e7a6ee70881b3d6da6"},
        {"hash", "31a6e1ceae1e798050f53cac68662eededafcf279cab1c1838b935ffcebf4275"},
        {"info", "002010746c73313320726573206d61737465722031a6e1ceae1e798050f53cac68662eededafcf279cab1c1838b935ff"
         "cebf4275"},
        {"expanded", "a34be53b07ab35b8503d7626a7cad4966873ebdea135c4b2e4cd28e4b812ac54"},
    }},
    {"server", "calculate finished \"tls13 finished\" (same as client)", {
    }},
    {"server", "derive read traffic keys for application data (same as client application data write traffic keys)", {
    }},
    {"server", "derive secret \"tls13 res master\" (same as client)", {
    }},
    {"server", "generate resumption secret \"tls13 resumption\":", {
        {"PRK", "a34be53b07ab35b8503d7626a7cad4966873ebdea135c4b2e4cd28e4b812ac54"},
        {"hash", "0000"},
        {"info", "002010746c73313320726573756d7074696f6e020000"},
        {"expanded", "cae5ce63ca4b2a7333a7cef44351eea4b6a0b6dabfe52e8fa8828c57602b807c"},
    }},
    {"server", "construct a NewSessionTicket handshake message", {
        {"NewSessionTicket", "040000c90000001e933d093202000000b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32a"
         "c7007070045931026db07d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22f"
         "cf7bd5c12222ab63ffd9d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73"
         "148661768f7f62098fb45c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbf"
         "e6113b0008002a000400000400"},
    }},
    {"server", "send handshake record:", {
        {"payload", "040000c90000001e933d093202000000b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32a"
         "c7007070045931026db07d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22f"
         "cf7bd5c12222ab63ffd9d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73"
         "148661768f7f62098fb45c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbf"
         "e6113b0008002a000400000400"},
        {"complete record", "17030300dec047d7b25ebbc316ebeef66485649f1a3a6c1918b035c183ebde6bd30c2b97f4935e329714bb08af9c6d96"
         "da3c604443c0dbbeab8beecd90af0c3dbc53ea1c49deeb688f45f0f9e8cceec68ebbadd3a4425938acd99dca9ead9b6f"
         "6a297a9aa0d9ab910745f6732527817fd4134ac5e99cd6255e2388c89f83646e0e5fbe4044aa5a55a3530ca98ff56eb6"
         "b1dc685e5660a75a822efae533daed34745608aa9829ba84de3e7c4acfc8094e39d2af817421e55c3aa5d0e1de43c408"
         "bac9322599ef4e57dfd08a7af0d1186c96e6ac299bd07f5ee5b056831964cb80768ce5"},
    }},
    {"client", "send application_data record:", {
        {"payload", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
         "3031"},
        {"complete record", "17030300436f75483d5af74e8419fadfd21404a9b5eba36b5170c504366f2da8ddc2bd7bfcaf3cbee33d8c0172f0f848"
         "5a1fa52d1364257cf5c509eaf35c39189b5278b5861b019f"},
    }},
    {"server", "send application_data record:", {
        {"payload", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
         "3031"},
        {"complete record", "1703030043cc8a45078c6c81b7461ff5624f6312aa44c3c101eb700e6248042f40baca0d988fefd11e945d27c7c364b5"
         "068580571908646e59a85e12690df143671095b3c93d705c"},
    }},
    {"client", "generate resumption secret \"tls13 resumption\" (same as server)", {
    }},
    {"client", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "170303001391e43d71d625149c7e221ca954b6a8958f12c0"},
    }},
    {"server", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013487b8fbbf30c49dd4817e394fa6c6f95816846"},
    }},
};


TEST_CASE_TEMPLATE("RFC 8448 section 3: every HKDF step recomputed from its printed inputs", Crypto, TAPSEC_TEST_PROVIDERS) {
    CHECK(check_every_hkdf_step<Crypto>(section3, TLS_AES_128_GCM_SHA256) == 19);
}

TEST_CASE_TEMPLATE("RFC 8448 section 3: simple 1-RTT key schedule and records, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const auto& t = section3;

    // (EC)DHE from the printed private keys, both ways.
    const auto client_key = Crypto::KeyShare::from_x25519_private(value(t, "client", "create an ephemeral x25519", "private key"));
    const auto server_key = Crypto::KeyShare::from_x25519_private(value(t, "server", "create an ephemeral x25519", "private key"));
    REQUIRE(client_key.ok());
    REQUIRE(server_key.ok());
    CHECK(hex(client_key->public_key()) == hex(value(t, "client", "create an ephemeral x25519", "public key")));
    CHECK(hex(server_key->public_key()) == hex(value(t, "server", "create an ephemeral x25519", "public key")));
    auto shared = client_key->agree(server_key->public_key());
    REQUIRE(shared.ok());
    CHECK(hex(*shared) == hex(value(t, "server", "extract secret \"handshake\"", "IKM")));
    CHECK(hex(server_key->agree(client_key->public_key()).value()) == hex(*shared));

    const Bytes client_hello = value(t, "client", "construct a ClientHello", "ClientHello");
    const Bytes server_hello = value(t, "server", "construct a ServerHello", "ServerHello");
    check_plaintext_record(step(t, "client", "send handshake record"), 0x0301);
    check_plaintext_record(step(t, "server", "send handshake record"), 0x0303);

    // Early Secret (no PSK) -> Handshake Secret.
    Transcript<Crypto> transcript;  // the client does not know the hash before ServerHello
    transcript.add(client_hello);
    auto early = EarlySecret<Crypto>::without_psk(suite);
    CHECK(hex(early.secret()) == hex(value(t, "server", "extract secret \"early\"", "secret")));
    transcript.set_hash(suite.hash);
    transcript.add(server_hello);
    const Bytes th_hello = transcript.current_hash();
    CHECK(hex(th_hello) == hex(value(t, "server", "derive secret \"tls13 c hs traffic\"", "hash")));

    auto hs = std::move(early).into_handshake(*shared);
    CHECK(hex(hs.secret()) == hex(value(t, "server", "extract secret \"handshake\"", "secret")));
    const auto chts = hs.client_handshake_traffic_secret(th_hello);
    const auto shts = hs.server_handshake_traffic_secret(th_hello);
    CHECK(hex(chts.secret) == hex(value(t, "server", "derive secret \"tls13 c hs traffic\"", "expanded")));
    CHECK(hex(shts.secret) == hex(value(t, "server", "derive secret \"tls13 s hs traffic\"", "expanded")));

    const auto server_hs_keys = traffic_keys<Crypto>(shts);
    CHECK(hex(server_hs_keys.key) == hex(value(t, "server", "derive write traffic keys for handshake data", "key expanded")));
    CHECK(hex(server_hs_keys.iv) == hex(value(t, "server", "derive write traffic keys for handshake data", "iv expanded")));
    const auto client_hs_keys = traffic_keys<Crypto>(chts);
    CHECK(hex(client_hs_keys.key) == hex(value(t, "server", "derive read traffic keys for handshake data", "key expanded")));
    CHECK(hex(client_hs_keys.iv) == hex(value(t, "server", "derive read traffic keys for handshake data", "iv expanded")));

    // Server flight: EncryptedExtensions, Certificate, CertificateVerify, Finished.
    for (const char* m : {"EncryptedExtensions", "Certificate", "CertificateVerify"})
        transcript.add(value(t, "server", std::string("construct a ") + m + " handshake", m));
    const auto server_finished = finished_verify_data<Crypto>(shts, transcript.current_hash());
    CHECK(hex(finished_key<Crypto>(suite.hash, shts.secret)) == hex(value(t, "server", "calculate finished", "expanded")));
    CHECK(hex(server_finished) == hex(value(t, "server", "calculate finished", "finished")));
    const Bytes server_finished_message = value(t, "server", "construct a Finished", "Finished");
    CHECK(hex(ByteView(server_finished_message).subspan(4)) == hex(server_finished));
    CHECK(verify_finished<Crypto>(shts, transcript.current_hash(), ByteView(server_finished_message).subspan(4)));
    transcript.add(server_finished_message);

    ProtectedDirection<Crypto> server_handshake(shts);
    server_handshake.check(ContentType::handshake, step(t, "server", "send handshake record", 1));

    // Master Secret: application traffic and exporter secrets over CH..server Finished.
    const Bytes th_server_finished = transcript.current_hash();
    CHECK(hex(th_server_finished) == hex(value(t, "server", "derive secret \"tls13 c ap traffic\"", "hash")));
    auto master = std::move(hs).into_master();
    CHECK(hex(master.secret()) == hex(value(t, "server", "extract secret \"master\"", "secret")));
    const auto cats = master.client_application_traffic_secret(th_server_finished);
    const auto sats = master.server_application_traffic_secret(th_server_finished);
    const auto ems = master.exporter_master_secret(th_server_finished);
    CHECK(hex(cats.secret) == hex(value(t, "server", "derive secret \"tls13 c ap traffic\"", "expanded")));
    CHECK(hex(sats.secret) == hex(value(t, "server", "derive secret \"tls13 s ap traffic\"", "expanded")));
    CHECK(hex(ems.secret) == hex(value(t, "server", "derive secret \"tls13 exp master\"", "expanded")));
    const auto server_ap_keys = traffic_keys<Crypto>(sats);
    CHECK(hex(server_ap_keys.key) == hex(value(t, "server", "derive write traffic keys for application data", "key expanded")));
    CHECK(hex(server_ap_keys.iv) == hex(value(t, "server", "derive write traffic keys for application data", "iv expanded")));
    const auto client_ap_keys = traffic_keys<Crypto>(cats);
    CHECK(hex(client_ap_keys.key) == hex(value(t, "client", "derive write traffic keys for application data", "key expanded")));
    CHECK(hex(client_ap_keys.iv) == hex(value(t, "client", "derive write traffic keys for application data", "iv expanded")));

    // Client Finished under the client handshake key.
    const auto client_finished = finished_verify_data<Crypto>(chts, th_server_finished);
    CHECK(hex(finished_key<Crypto>(suite.hash, chts.secret)) == hex(value(t, "client", "calculate finished \"tls13 finished\":", "expanded")));
    CHECK(hex(client_finished) == hex(value(t, "client", "calculate finished \"tls13 finished\":", "finished")));
    const Bytes client_finished_message = value(t, "client", "construct a Finished", "Finished");
    CHECK(hex(ByteView(client_finished_message).subspan(4)) == hex(client_finished));
    transcript.add(client_finished_message);
    ProtectedDirection<Crypto> client_handshake(chts);
    client_handshake.check(ContentType::handshake, step(t, "client", "send handshake record", 1));

    // Resumption master secret over CH..client Finished, and the ticket's PSK.
    const Bytes th_client_finished = transcript.current_hash();
    CHECK(hex(th_client_finished) == hex(value(t, "client", "derive secret \"tls13 res master\"", "hash")));
    const auto rms = master.resumption_master_secret(th_client_finished);
    CHECK(hex(rms.secret) == hex(value(t, "client", "derive secret \"tls13 res master\"", "expanded")));
    const Bytes ticket = value(t, "server", "construct a NewSessionTicket", "NewSessionTicket");
    CHECK(hex(resumption_psk<Crypto>(rms, ticket_nonce(ticket))) ==
          hex(value(t, "server", "generate resumption secret", "expanded")));

    // Application epoch: NewSessionTicket, data both ways, close_notify both ways.
    ProtectedDirection<Crypto> server_app(sats), client_app(cats);
    server_app.check(ContentType::handshake, step(t, "server", "send handshake record", 2));
    client_app.check(ContentType::application_data, step(t, "client", "send application_data record"));
    server_app.check(ContentType::application_data, step(t, "server", "send application_data record"));
    client_app.check(ContentType::alert, step(t, "client", "send alert record"));
    server_app.check(ContentType::alert, step(t, "server", "send alert record"));
}

}  // namespace tls13_rfc8448_simple_1rtt_test
