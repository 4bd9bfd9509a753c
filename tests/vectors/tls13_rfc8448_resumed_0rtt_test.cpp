// RFC 8448 Section 4, "Resumed 0-RTT Handshake" (TLS_AES_128_GCM_SHA256, PSK from the
// Section 3 ticket, psk_dhe_ke with X25519): the PSK binder, the early secret,
// client_early_traffic_secret and early exporter, 0-RTT data and EndOfEarlyData
// records, then the whole handshake and application schedule, byte for byte.
// The trace below is the RFC's text (tls13_rfc8448_extract.py rfc8448.txt 4).
#include "support/providers.hpp"
#include "tls13_rfc8448_trace.hpp"

namespace tls13_rfc8448_resumed_0rtt_test {

using namespace rfc8448;

const Trace section4 = {
    {"client", "create an ephemeral x25519 key pair:", {
        {"private key", "36e14cddb620020dece3fb0369b548f204f5cad77c95b3b4a1c60bd431f0d66e"},
        {"public key", "5839e32b2b0e47211ff3098d998ed0379a07b299b846585b7fab62c61357d174"},
    }},
    {"client", "extract secret \"early\":", {
        {"salt", ""},
        {"IKM", "cae5ce63ca4b2a7333a7cef44351eea4b6a0b6dabfe52e8fa8828c57602b807c"},
        {"secret", "7926bf246b73dd7cf3aa5a75ec3dc91ae3a234c00565744af51697313a085fff"},
    }},
    {"client", "construct a ClientHello handshake message", {
        {"ClientHello", "010001fc0303750e184c0c28d365ffab68b74cb202fdb495ad19f527c6e6cebec35b443b9b3500000613011303130201"
         "0001cd0000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "3300260024001d00205839e32b2b0e47211ff3098d998ed0379a07b299b846585b7fab62c61357d174002a0000002b00"
         "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
         "000240010015005700000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "2900dd00b800b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32ac7007070045931026db0"
         "7d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22fcf7bd5c12222ab63ffd9"
         "d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73148661768f7f62098fb4"
         "5c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbfe6113b933d0937"},
    }},
    {"client", "calculate PSK binder:", {
        {"ClientHello prefix", "010001fc0303750e184c0c28d365ffab68b74cb202fdb495ad19f527c6e6cebec35b443b9b3500000613011303130201"
         "0001cd0000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "3300260024001d00205839e32b2b0e47211ff3098d998ed0379a07b299b846585b7fab62c61357d174002a0000002b00"
         "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
         "000240010015005700000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "2900dd00b800b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32ac7007070045931026db0"
         "7d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22fcf7bd5c12222ab63ffd9"
         "d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73148661768f7f62098fb4"
         "5c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbfe6113b933d0937"},
        {"binder hash", "6fd17487908d45ca0bb7d5e5a968f94aa43296b3fd578d0c102540c380a23e68"},
        {"PRK", "1748d43e9e7001e862d45add841c85fa07bfdc7c68f099ac4f50735dfa29bfbc"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "99c8c7b09a89cf670164b5710348f9cd51ce53608a6e5ea802e0838d396aed70"},
        {"finished", "718cd8f22e8ed71d1a23f7c88f63d45487afe58157cbc57e66bd1323e41a8cd8"},
    }},
    {"client", "send handshake record:", {
        {"payload", "010001fc0303750e184c0c28d365ffab68b74cb202fdb495ad19f527c6e6cebec35b443b9b3500000613011303130201"
         "0001cd0000000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400"
         "3300260024001d00205839e32b2b0e47211ff3098d998ed0379a07b299b846585b7fab62c61357d174002a0000002b00"
         "03020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00020101001c"
         "000240010015005700000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "2900dd00b800b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32ac7007070045931026db0"
         "7d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22fcf7bd5c12222ab63ffd9"
         "d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73148661768f7f62098fb4"
         "5c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbfe6113b933d0937002120"
         "718cd8f22e8ed71d1a23f7c88f63d45487afe58157cbc57e66bd1323e41a8cd8"},
        {"complete record", "1603010200010001fc0303750e184c0c28d365ffab68b74cb202fdb495ad19f527c6e6cebec35b443b9b350000061301"
         "13031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d001700180019010001010102"
         "01030104003300260024001d00205839e32b2b0e47211ff3098d998ed0379a07b299b846585b7fab62c61357d174002a"
         "0000002b0003020304000d0020001e040305030603020308040805080604010501060102010402050206020202002d00"
         "020101001c00024001001500570000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "00000000002900dd00b800b2f35edae4e60404d6f40fa17f000000008393d163fb4f5f105fe2056caeb32ac700707004"
         "5931026db07d58dd58090d629af59ecb7fba353d5d9653a708fbcf0f515c1b82db6b08977179dfc684d22fcf7bd5c122"
         "22ab63ffd9d2bc46176d144ae98ad93416894822ac5064065f92995a6f052fa3a731703657817ea7a8de73148661768f"
         "7f62098fb45c0a9dde04a9cf1aa4206f13dd055df3ed5fa681bbf876e362ad9c0a68d2b5266c79aa806cbfe6113b933d"
         "0937002120718cd8f22e8ed71d1a23f7c88f63d45487afe58157cbc57e66bd1323e41a8cd8"},
    }},
    {"client", "derive secret \"tls13 c e traffic\":", {
        {"PRK", "7926bf246b73dd7cf3aa5a75ec3dc91ae3a234c00565744af51697313a085fff"},
        {"hash", "d899c67dee77e998f6e881a3b14efe9387b1875dd8638dfbad8df14844e2b766"},
        {"info", "002011746c73313320632065207472616666696320d899c67dee77e998f6e881a3b14efe9387b1875dd8638dfbad8df1"
         "4844e2b766"},
        {"expanded", "c4196f87b65585b405a6ed59ba9ca31e468ac9b2c79477d449c559a44407197f"},
    }},
    {"client", "derive secret \"tls13 e exp master\":", {
        {"PRK", "7926bf246b73dd7cf3aa5a75ec3dc91ae3a234c00565744af51697313a085fff"},
        {"hash", "d899c67dee77e998f6e881a3b14efe9387b1875dd8638dfbad8df14844e2b766"},
        {"info", "002012746c733133206520657870206d617374657220d899c67dee77e998f6e881a3b14efe9387b1875dd8638dfbad8d"
         "f14844e2b766"},
        {"expanded", "374659e63055b71ba274739397a05b897628e4ea99dcb6ac15564d6a0dc904bc"},
    }},
    {"client", "derive write traffic keys for early application data:", {
        {"PRK", "c4196f87b65585b405a6ed59ba9ca31e468ac9b2c79477d449c559a44407197f"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "a9d6c91b8adb612268f7724f0b6cdc75"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "8d52156fb7db01cb290bdef1"},
    }},
    {"client", "send application_data record:", {
        {"payload", "414243444546"},
        {"complete record", "17030300179cd0e4cd0e389d954094f3406052eaa7d562de9d7e953f"},
    }},
    {"server", "extract secret \"early\" (same as client early secret)", {
    }},
    {"server", "calculate PSK binder (same as client)", {
    }},
    {"server", "create an ephemeral x25519 key pair:", {
        {"private key", "76ae5bbb8022b8f0b2a31ff4ccfa1fa0c6691503893e83bf3eb9b7f4ea9d0506"},
        {"public key", "7abd53026c45bd7be12f6c4db9d226a9b1527a76c825c07722201a314ae90d21"},
    }},
    {"server", "derive secret \"tls13 c e traffic\" (same as client)", {
    }},
    {"server", "derive secret \"tls13 e exp master\" (same as client)", {
    }},
    {"server", "construct a ServerHello handshake message", {
        {"ServerHello", "0200005c0303f79e0c03e63dcb0fafdc441f79065e0409a2ef2360f3c6549682ffb72395f9d200130100003400290002"
         "000000330024001d00207abd53026c45bd7be12f6c4db9d226a9b1527a76c825c07722201a314ae90d21002b00020304"},
    }},
    {"server", "derive secret for handshake \"tls13 derived\":", {
        {"PRK", "7926bf246b73dd7cf3aa5a75ec3dc91ae3a234c00565744af51697313a085fff"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "145a534c158615d3b1ec2926578834139c4a88dd63fb61f4a77baa7940ff2f58"},
    }},
    {"server", "extract secret \"handshake\":", {
        {"salt", "145a534c158615d3b1ec2926578834139c4a88dd63fb61f4a77baa7940ff2f58"},
        {"IKM", "18d56663008e5df98a5c89577de96076e304383265de56ddb61184006bdf8545"},
        {"secret", "0a4a82590a96141e59c0f7130049a24facd080d187f62bf606a897b01d75e09b"},
    }},
    {"server", "derive secret \"tls13 c hs traffic\":", {
        {"PRK", "0a4a82590a96141e59c0f7130049a24facd080d187f62bf606a897b01d75e09b"},
        {"hash", "8fa5117ce95d2b6fb824df54b34d1694d05483593472f379b94c52535ca9b5e8"},
        {"info", "002012746c73313320632068732074726166666963208fa5117ce95d2b6fb824df54b34d1694d05483593472f379b94c"
         "52535ca9b5e8"},
        {"expanded", "74739327edf99fadd88155fc8e9817a15ef1a3c5091c968bdf4a46201f6eecd8"},
    }},
    {"server", "derive secret \"tls13 s hs traffic\":", {
        {"PRK", "0a4a82590a96141e59c0f7130049a24facd080d187f62bf606a897b01d75e09b"},
        {"hash", "8fa5117ce95d2b6fb824df54b34d1694d05483593472f379b94c52535ca9b5e8"},
        {"info", "002012746c73313320732068732074726166666963208fa5117ce95d2b6fb824df54b34d1694d05483593472f379b94c"
         "52535ca9b5e8"},
        {"expanded", "147abd48f114534ec0d6db3c8de5145aa90f668f8777fd373601bfe93be4c96e"},
    }},
    {"server", "derive secret for master \"tls13 derived\":", {
        {"PRK", "0a4a82590a96141e59c0f7130049a24facd080d187f62bf606a897b01d75e09b"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "44e47558ba8cb3d2faa8a0d7eab262cdb63e378cffc592b9ce80e9d1562a0a48"},
    }},
    {"server", "extract secret \"master\":", {
        {"salt", "44e47558ba8cb3d2faa8a0d7eab262cdb63e378cffc592b9ce80e9d1562a0a48"},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "28bb7690352d2f3ce4ddab8351ede1220cd6b15a52a3dbd687963c11b0a24539"},
    }},
    {"server", "send handshake record:", {
        {"payload", "0200005c0303f79e0c03e63dcb0fafdc441f79065e0409a2ef2360f3c6549682ffb72395f9d200130100003400290002"
         "000000330024001d00207abd53026c45bd7be12f6c4db9d226a9b1527a76c825c07722201a314ae90d21002b00020304"},
        {"complete record", "16030300600200005c0303f79e0c03e63dcb0fafdc441f79065e0409a2ef2360f3c6549682ffb72395f9d20013010000"
         "3400290002000000330024001d00207abd53026c45bd7be12f6c4db9d226a9b1527a76c825c07722201a314ae90d2100"
         "2b00020304"},
    }},
    {"server", "derive write traffic keys for handshake data:", {
        {"PRK", "147abd48f114534ec0d6db3c8de5145aa90f668f8777fd373601bfe93be4c96e"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "3c55afa573bc879ff701c278b40326cd"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "62214e83fd5c68e7d9126db4"},
    }},
    {"server", "construct a EncryptedExtensions handshake message", {
        {"EncryptedExtensions", "080000280026000a00140012001d00170018001901000101010201030104001c0002400100000000002a0000"},
    }},
    {"server", "calculate finished \"tls13 finished\":", {
        {"PRK", "147abd48f114534ec0d6db3c8de5145aa90f668f8777fd373601bfe93be4c96e"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "17c9a1d9c68ef8edef88cf79738457c83ee2859ac1abe4862ed7f00133a7ea0e"},
        {"finished", "53a443557d4689dca951b67220f7937d36cf8dece83703cf96f6c3439e51b10d"},
    }},
    {"server", "construct a Finished handshake message", {
        {"Finished", "1400002053a443557d4689dca951b67220f7937d36cf8dece83703cf96f6c3439e51b10d"},
    }},
    {"server", "send handshake record:", {
        {"payload", "080000280026000a00140012001d00170018001901000101010201030104001c0002400100000000002a000014000020"
         "53a443557d4689dca951b67220f7937d36cf8dece83703cf96f6c3439e51b10d"},
        {"complete record", "17030300612c3b0241569cfe1aff0a0db6ae1c748f256b69ed5e6e9541542a57c077e403b95776b59623790b98975aa3"
         "a593c4df96b713cc5a7526c8b6c77fbccbd492b0467b81425990a4cdc425ca0869c8ab53411b92c6f5aa6a0ec2f73142"
         "25586f594594"},
    }},
    {"server", "derive secret \"tls13 c ap traffic\":", {
        {"PRK", "28bb7690352d2f3ce4ddab8351ede1220cd6b15a52a3dbd687963c11b0a24539"},
        {"hash", "231b6b98c1e90d385de482d5d0f2944fcc9ac0b6ed9dac98e15b19f41f380e88"},
        {"info", "002012746c7331332063206170207472616666696320231b6b98c1e90d385de482d5d0f2944fcc9ac0b6ed9dac98e15b"
         "19f41f380e88"},
        {"expanded", "88fd0f44d5aaf631b161f43ba070884bce5f29151cb9c7ace17a9ce5cd0bb8f0"},
    }},
    {"server", "derive secret \"tls13 s ap traffic\":", {
        {"PRK", "28bb7690352d2f3ce4ddab8351ede1220cd6b15a52a3dbd687963c11b0a24539"},
        {"hash", "231b6b98c1e90d385de482d5d0f2944fcc9ac0b6ed9dac98e15b19f41f380e88"},
        {"info", "002012746c7331332073206170207472616666696320231b6b98c1e90d385de482d5d0f2944fcc9ac0b6ed9dac98e15b"
         "19f41f380e88"},
        {"expanded", "67a047ad76e8db768134f62b98cdabbfd6bcf1232b898a313045881bdc72cdbb"},
    }},
    {"server", "derive secret \"tls13 exp master\":", {
        {"PRK", "28bb7690352d2f3ce4ddab8351ede1220cd6b15a52a3dbd687963c11b0a24539"},
        {"hash", "231b6b98c1e90d385de482d5d0f2944fcc9ac0b6ed9dac98e15b19f41f380e88"},
        {"info", "002010746c73313320657870206d617374657220231b6b98c1e90d385de482d5d0f2944fcc9ac0b6ed9dac98e15b19f4"
         "1f380e88"},
        {"expanded", "c58658af17f4d2cba048d48e5731abbe5eeb1a3196c19d4b6174389e5ed024db"},
    }},
    {"server", "derive write traffic keys for application data:", {
        {"PRK", "67a047ad76e8db768134f62b98cdabbfd6bcf1232b898a313045881bdc72cdbb"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "c8760f5c0779cdaf2a5ebbbad97466fb"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "a5e50352773231004a263e20"},
    }},
    {"server", "derive read traffic keys for early application data (same as client early application data write traffic keys)", {
    }},
    {"client", "derive secret for handshake \"tls13 derived\":", {
        {"PRK", "7926bf246b73dd7cf3aa5a75ec3dc91ae3a234c00565744af51697313a085fff"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "145a534c158615d3b1ec2926578834139c4a88dd63fb61f4a77baa7940ff2f58"},
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
    {"client", "construct a EndOfEarlyData handshake message", {
        {"EndOfEarlyData", "05000000"},
    }},
    {"client", "send handshake record:", {
        {"payload", "05000000"},
        {"complete record", "1703030015b247eb1afdc310d83ebed76975ca910d057ff00905"},
    }},
    {"client", "derive write traffic keys for handshake data:", {
        {"PRK", "74739327edf99fadd88155fc8e9817a15ef1a3c5091c968bdf4a46201f6eecd8"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "dbde524fdb5be8721687e8b996e34e82"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "b4171635bf354501e8be5b0c"},
    }},
    {"client", "derive read traffic keys for application data (same as server application data write traffic keys)", {
    }},
    {"client", "calculate finished \"tls13 finished\":", {
        {"PRK", "74739327edf99fadd88155fc8e9817a15ef1a3c5091c968bdf4a46201f6eecd8"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "19f5bb96d0fd554494c34eaacfab129fbbddc36b0d25e0a2666095ef07160b00"},
        {"finished", "45d58949c2c20030c87ff17660c70cfe7160de345672142f709a8f8e31cb6096"},
    }},
    {"client", "construct a Finished handshake message", {
        {"Finished", "1400002045d58949c2c20030c87ff17660c70cfe7160de345672142f709a8f8e31cb6096"},
    }},
    {"client", "send handshake record:", {
        {"payload", "1400002045d58949c2c20030c87ff17660c70cfe7160de345672142f709a8f8e31cb6096"},
        {"complete record", "170303003531f04921212fa2a326b4f2a14d053ad57c1dc52d3e3f95bdea25bd71e185315a661610c30c4bf17bb42ce1"
         "8f74782675549e268669"},
    }},
    {"client", "derive write traffic keys for application data:", {
        {"PRK", "88fd0f44d5aaf631b161f43ba070884bce5f29151cb9c7ace17a9ce5cd0bb8f0"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "32ad875a817e79db3e9f2804f7477c49"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "c4db3d7cbf24e820353ca81f"},
    }},
    {"client", "derive secret \"tls13 res master\":", {
        {"PRK", "28bb7690352d2f3ce4ddab8351ede1220cd6b15a52a3dbd687963c11b0a24539"},
        {"hash", "53dc097d6a868abb3913161efb94ded7c17cec9723309e5c92906097357268c5"},
        {"info", "002010746c73313320726573206d61737465722053dc097d6a868abb3913161efb94ded7c17cec9723309e5c92906097"
         "357268c5"},
        {"expanded", "899a395435cfc82589e72646e244fb4fd8a3987395c2e6ad1d148ccaa48823e2"},
    }},
    {"server", "derive read traffic keys for handshake data (same as client handshake data write traffic keys)", {
    }},
    {"server", "calculate finished \"tls13 finished\" (same as client)", {
    }},
    {"server", "derive read traffic keys for application data (same as client application data write traffic keys)", {
    }},
    {"server", "derive secret \"tls13 res master\" (same as client)", {
    }},
    {"client", "send application_data record:", {
        {"payload", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
         "3031"},
        {"complete record", "1703030043be4d3c915003014258a967c9cdf2deabbf54cec02e5b30b8933bd5d8e21de6c0c037af4532d8e8a4ce6b56"
         "4157360d611d792a6505a3b925e309265435fb2c27637f1d"},
    }},
    {"server", "send application_data record:", {
        {"payload", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f"
         "3031"},
        {"complete record", "17030300433af6fa187e9bb7613d8619ec3529d464fa9270db029fbe17b6ecb0920324c75513a69ac2cf264a21ddbf39"
         "6a284834fd3a28b09fa25bda619d5599945b425a6d0febd7"},
    }},
    {"client", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013811047192503e4e8e64dc0c9a249c3c393e5f1"},
    }},
    {"server", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013319cd7a6a43238131bc0ec277d4d16f4bbac8d"},
    }},
};

// RFC 8448 Section 3, {server} generate resumption secret "tls13 resumption": the PSK
// of the ticket this handshake resumes.
const char* const section3_resumption_psk = "cae5ce63ca4b2a7333a7cef44351eea4b6a0b6dabfe52e8fa8828c57602b807c";


TEST_CASE_TEMPLATE("RFC 8448 section 4: every HKDF step recomputed from its printed inputs", Crypto, TAPSEC_TEST_PROVIDERS) {
    CHECK(check_every_hkdf_step<Crypto>(section4, TLS_AES_128_GCM_SHA256) == 22);
}

TEST_CASE_TEMPLATE("RFC 8448 section 4: resumed 0-RTT key schedule and records, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const auto& t = section4;

    const Bytes psk = value(t, "client", "extract secret \"early\"", "IKM");
    CHECK(hex(psk) == section3_resumption_psk);
    auto early = EarlySecret<Crypto>::with_psk(suite, psk);
    CHECK(hex(early.secret()) == hex(value(t, "client", "extract secret \"early\"", "secret")));

    // The binder covers the ClientHello up to (not including) the binders list.
    Transcript<Crypto> transcript(suite.hash);  // resuming: the hash is the ticket's
    const Bytes prefix = value(t, "client", "calculate PSK binder", "ClientHello prefix");
    const Bytes binder_hash = transcript.hash_with(prefix);
    CHECK(hex(binder_hash) == hex(value(t, "client", "calculate PSK binder", "binder hash")));
    CHECK(hex(early.binder_key(PskKind::resumption)) == hex(value(t, "client", "calculate PSK binder", "PRK")));
    const auto binder = early.psk_binder(PskKind::resumption, binder_hash);
    CHECK(hex(binder) == hex(value(t, "client", "calculate PSK binder", "finished")));
    // The trace's "construct a ClientHello" is the message before binders were filled in
    // (the prefix); the ClientHello sent is the record's payload.
    CHECK(hex(value(t, "client", "construct a ClientHello", "ClientHello")) == hex(prefix));
    const Bytes client_hello = value(t, "client", "send handshake record", "payload");
    REQUIRE(client_hello.size() == prefix.size() + 2 + 1 + binder.size());
    CHECK(hex(ByteView(client_hello).first(prefix.size())) == hex(prefix));
    CHECK(hex(ByteView(client_hello).last(binder.size())) == hex(binder));
    CHECK(early.verify_psk_binder(PskKind::resumption, binder_hash, ByteView(client_hello).last(binder.size())));
    Bytes wrong_binder(binder.begin(), binder.end());
    wrong_binder[0] ^= 1;
    CHECK_FALSE(early.verify_psk_binder(PskKind::resumption, binder_hash, wrong_binder));
    check_plaintext_record(step(t, "client", "send handshake record"), 0x0301);

    // 0-RTT: secrets over the ClientHello, then the early data record.
    transcript.add(client_hello);
    const Bytes th_client_hello = transcript.current_hash();
    CHECK(hex(th_client_hello) == hex(value(t, "client", "derive secret \"tls13 c e traffic\"", "hash")));
    const auto cets = early.client_early_traffic_secret(th_client_hello);
    CHECK(hex(cets.secret) == hex(value(t, "client", "derive secret \"tls13 c e traffic\"", "expanded")));
    CHECK(hex(early.early_exporter_master_secret(th_client_hello).secret) ==
          hex(value(t, "client", "derive secret \"tls13 e exp master\"", "expanded")));
    const auto early_keys = traffic_keys<Crypto>(cets);
    CHECK(hex(early_keys.key) == hex(value(t, "client", "derive write traffic keys for early application data", "key expanded")));
    CHECK(hex(early_keys.iv) == hex(value(t, "client", "derive write traffic keys for early application data", "iv expanded")));
    ProtectedDirection<Crypto> client_early(cets);
    client_early.check(ContentType::application_data, step(t, "client", "send application_data record"));

    // ServerHello and the handshake secret (PSK and X25519).
    const auto client_key = Crypto::KeyShare::from_x25519_private(value(t, "client", "create an ephemeral x25519", "private key"));
    REQUIRE(client_key.ok());
    const auto server_key = Crypto::KeyShare::from_x25519_private(value(t, "server", "create an ephemeral x25519", "private key"));
    REQUIRE(server_key.ok());
    CHECK(hex(server_key->public_key()) == hex(value(t, "server", "create an ephemeral x25519", "public key")));
    auto shared = client_key->agree(server_key->public_key());
    REQUIRE(shared.ok());
    CHECK(hex(*shared) == hex(value(t, "server", "extract secret \"handshake\"", "IKM")));

    transcript.add(value(t, "server", "construct a ServerHello", "ServerHello"));
    check_plaintext_record(step(t, "server", "send handshake record"), 0x0303);
    const Bytes th_hello = transcript.current_hash();
    auto hs = std::move(early).into_handshake(*shared);
    CHECK(hex(hs.secret()) == hex(value(t, "server", "extract secret \"handshake\"", "secret")));
    const auto chts = hs.client_handshake_traffic_secret(th_hello);
    const auto shts = hs.server_handshake_traffic_secret(th_hello);
    CHECK(hex(chts.secret) == hex(value(t, "server", "derive secret \"tls13 c hs traffic\"", "expanded")));
    CHECK(hex(shts.secret) == hex(value(t, "server", "derive secret \"tls13 s hs traffic\"", "expanded")));
    CHECK(hex(traffic_keys<Crypto>(shts).key) == hex(value(t, "server", "derive write traffic keys for handshake data", "key expanded")));
    CHECK(hex(traffic_keys<Crypto>(chts).key) == hex(value(t, "client", "derive write traffic keys for handshake data", "key expanded")));
    CHECK(hex(traffic_keys<Crypto>(chts).iv) == hex(value(t, "client", "derive write traffic keys for handshake data", "iv expanded")));

    // Server flight (EncryptedExtensions, Finished: no certificate when resuming).
    transcript.add(value(t, "server", "construct a EncryptedExtensions", "EncryptedExtensions"));
    CHECK(hex(finished_verify_data<Crypto>(shts, transcript.current_hash())) ==
          hex(value(t, "server", "calculate finished", "finished")));
    transcript.add(value(t, "server", "construct a Finished", "Finished"));
    ProtectedDirection<Crypto> server_handshake(shts);
    server_handshake.check(ContentType::handshake, step(t, "server", "send handshake record", 1));

    const Bytes th_server_finished = transcript.current_hash();
    auto master = std::move(hs).into_master();
    CHECK(hex(master.secret()) == hex(value(t, "server", "extract secret \"master\"", "secret")));
    const auto cats = master.client_application_traffic_secret(th_server_finished);
    const auto sats = master.server_application_traffic_secret(th_server_finished);
    CHECK(hex(cats.secret) == hex(value(t, "server", "derive secret \"tls13 c ap traffic\"", "expanded")));
    CHECK(hex(sats.secret) == hex(value(t, "server", "derive secret \"tls13 s ap traffic\"", "expanded")));
    CHECK(hex(master.exporter_master_secret(th_server_finished).secret) ==
          hex(value(t, "server", "derive secret \"tls13 exp master\"", "expanded")));

    // EndOfEarlyData goes under the early key (its second record), then client Finished.
    const Bytes end_of_early_data = value(t, "client", "construct a EndOfEarlyData", "EndOfEarlyData");
    client_early.check(ContentType::handshake, step(t, "client", "send handshake record", 1));
    transcript.add(end_of_early_data);
    CHECK(hex(finished_verify_data<Crypto>(chts, transcript.current_hash())) ==
          hex(value(t, "client", "calculate finished \"tls13 finished\":", "finished")));
    transcript.add(value(t, "client", "construct a Finished", "Finished"));
    ProtectedDirection<Crypto> client_handshake(chts);
    client_handshake.check(ContentType::handshake, step(t, "client", "send handshake record", 2));

    const Bytes th_client_finished = transcript.current_hash();
    CHECK(hex(th_client_finished) == hex(value(t, "client", "derive secret \"tls13 res master\"", "hash")));
    CHECK(hex(master.resumption_master_secret(th_client_finished).secret) ==
          hex(value(t, "client", "derive secret \"tls13 res master\"", "expanded")));

    ProtectedDirection<Crypto> client_app(cats), server_app(sats);
    client_app.check(ContentType::application_data, step(t, "client", "send application_data record", 1));
    server_app.check(ContentType::application_data, step(t, "server", "send application_data record"));
    client_app.check(ContentType::alert, step(t, "client", "send alert record"));
    server_app.check(ContentType::alert, step(t, "server", "send alert record"));
}

// ---- Section 4 through the real ClientHandshake (see tls13_rfc8448_replay_test.cpp and
// docs/tls13-key-schedule.md for where byte-for-byte stops and why) ----

TEST_CASE_TEMPLATE("RFC 8448 section 4: resumption with 0-RTT through the real ClientHandshake, ticket age from the injected clock", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& t = section4;
    const Bytes trace_hello = value(t, "client", "send handshake record", "payload");
    auto trace = decode_client_hello(ByteView(trace_hello).subspan(4));
    REQUIRE(trace.ok());
    REQUIRE(trace->psk_identities.size() == 1);

    // The session Section 3 left behind: its ticket (the identity the trace presents), its
    // resumption PSK, and its ticket_age_add (Section 3's NewSessionTicket: 0x933d0932).
    const std::uint32_t age_add = 0x933d0932;
    const std::uint32_t trace_age_ms = client_ticket_age_ms(trace->psk_identities[0].obfuscated_ticket_age, age_add);
    REQUIRE(trace_age_ms < 30'000);  // within the ticket's 30 s lifetime
    SessionState session;
    session.suite = &TLS_AES_128_GCM_SHA256;
    const Bytes psk = from_hex(section3_resumption_psk);
    session.psk.assign(psk.begin(), psk.end());
    const auto issued = during_trace();
    session.issued_us = unix_micros(issued);
    session.lifetime_s = 30;
    session.age_add = age_add;
    session.max_early_data = 1024;
    session.server_name = "server";
    session.ticket = trace->psk_identities[0].identity;
    auto cache = std::make_shared<InMemorySessionCache>();
    cache->store("server", session.serialize());

    auto random = std::make_shared<ScriptedRandom>();
    random->script = {Bytes(trace_hello.begin() + 6, trace_hello.begin() + 38),
                      value(t, "client", "create an ephemeral x25519", "private key")};
    tls13::Config config;
    config.server_name = "server";
    config.cipher_suites = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"};
    config.groups = {"x25519", "secp256r1"};
    config.record_size_limit = 16385;
    config.middlebox_compatibility = false;
    config.session_cache = cache;
    config.random = ScriptedRandom::install(random);
    // The clock the trace's client read: issue time + the age it reported (+ 0.4 ms, rounded down).
    config.wall_clock = [&] { return issued + std::chrono::milliseconds(trace_age_ms) + std::chrono::microseconds(400); };
    const Bytes early_data = value(t, "client", "send application_data record", "payload");

    ClientHandshake<Crypto> client(config);
    REQUIRE_FALSE(client.start(early_data));
    Bytes hello;
    Bytes sent_early;
    while (auto a = client.poll_action()) {
        if (a->kind == Action::Kind::send) hello = a->message;
        if (a->kind == Action::Kind::send_application_data) sent_early = a->message;
    }
    CHECK(random->draws == std::vector<std::size_t>{32, 32});
    auto ours = decode_client_hello(ByteView(hello).subspan(4));
    REQUIRE(ours.ok());
    // The PSK identity byte for byte: the ticket, and the obfuscated age computed from the
    // injected clock; then the fields we send, the 0-RTT offer and its data.
    REQUIRE(ours->psk_identities.size() == 1);
    CHECK(hex(ours->psk_identities[0].identity) == hex(trace->psk_identities[0].identity));
    CHECK(ours->psk_identities[0].obfuscated_ticket_age == trace->psk_identities[0].obfuscated_ticket_age);
    CHECK(ours->psk_modes == trace->psk_modes);
    CHECK(ours->early_data == trace->early_data);
    CHECK(ours->random == trace->random);
    CHECK(ours->cipher_suites == trace->cipher_suites);
    REQUIRE(ours->key_shares);
    CHECK(hex(ours->key_shares->front().key_exchange) == hex(trace->key_shares->front().key_exchange));
    CHECK(hex(sent_early) == hex(early_data));
    // The binder covers our ClientHello, which lacks the trace's TLS 1.2 extensions: it differs,
    // and verifies under the trace's PSK over ours.
    const std::size_t binders = binders_length(*ours);
    const Bytes partial = Crypto::hash(crypto::HashAlgorithm::sha256, ByteView(hello).first(hello.size() - binders));
    CHECK(EarlySecret<Crypto>::with_psk(TLS_AES_128_GCM_SHA256, psk)
              .verify_psk_binder(PskKind::resumption, partial, ours->psk_binders[0]));

    // The trace's ServerHello (PSK 0 with X25519) and EncryptedExtensions (0-RTT accepted):
    // accepted; the trace's Finished covers the trace's ClientHello, not ours: refused.
    REQUIRE_FALSE(client.handle(raw(value(t, "server", "construct a ServerHello", "ServerHello"))));
    auto keys = drain(client);
    REQUIRE(keys.read_keys.size() == 1);
    Transcript<Crypto> transcript;
    transcript.set_hash(crypto::HashAlgorithm::sha256);
    transcript.add(hello);
    transcript.add(value(t, "server", "construct a ServerHello", "ServerHello"));
    auto hs = EarlySecret<Crypto>::with_psk(TLS_AES_128_GCM_SHA256, psk)
                  .into_handshake(value(t, "server", "extract secret \"handshake\"", "IKM"));
    CHECK(hex(keys.read_keys[0].secret) == hex(hs.server_handshake_traffic_secret(transcript.current_hash()).secret));
    REQUIRE_FALSE(client.handle(raw(value(t, "server", "construct a EncryptedExtensions", "EncryptedExtensions"))));
    CHECK(client.early_data_accepted());
    CHECK(client.handle(raw(value(t, "server", "construct a Finished", "Finished"))) == Error::bad_finished);
}

}  // namespace tls13_rfc8448_resumed_0rtt_test
