// RFC 8448 Section 5, "HelloRetryRequest" (TLS_AES_128_GCM_SHA256): the client offers
// X25519, the server asks for P-256 with a HelloRetryRequest and a cookie. Checks the
// transcript's message_hash replacement of ClientHello1 (RFC 8446 4.4.1), the P-256
// (EC)DHE from the printed private keys, and every secret, key and record after it.
// The trace below is the RFC's text (tls13_rfc8448_extract.py rfc8448.txt 5).
#include "support/providers.hpp"
#include "tls13_rfc8448_trace.hpp"

#include <botan/bigint.h>
#include <botan/ecdh.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>

namespace tls13_rfc8448_hello_retry_test {

using namespace rfc8448;

const Trace section5 = {
    {"client", "create an ephemeral x25519 key pair:", {
        {"private key", "cc5aa2f76f528752837cc51e60390e2d6d977a0183776fb7743a8d06786e7ab8"},
        {"public key", "f7dead1d79f3fd2379002489bbe689b3b16bbc419c812fa617a6fb0a99a17117"},
    }},
    {"client", "construct a ClientHello handshake message", {
        {"ClientHello", "010000b00303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee948700000613011303130201"
         "0000810000000b0009000006736572766572ff01000100000a00080006001d00170018003300260024001d0020f7dead"
         "1d79f3fd2379002489bbe689b3b16bbc419c812fa617a6fb0a99a17117002b0003020304000d0020001e040305030603"
         "020308040805080604010501060102010402050206020202002d00020101001c00024001"},
    }},
    {"client", "send handshake record:", {
        {"payload", "010000b00303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee948700000613011303130201"
         "0000810000000b0009000006736572766572ff01000100000a00080006001d00170018003300260024001d0020f7dead"
         "1d79f3fd2379002489bbe689b3b16bbc419c812fa617a6fb0a99a17117002b0003020304000d0020001e040305030603"
         "020308040805080604010501060102010402050206020202002d00020101001c00024001"},
        {"complete record", "16030100b4010000b00303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee94870000061301"
         "13031302010000810000000b0009000006736572766572ff01000100000a00080006001d00170018003300260024001d"
         "0020f7dead1d79f3fd2379002489bbe689b3b16bbc419c812fa617a6fb0a99a17117002b0003020304000d0020001e04"
         "0305030603020308040805080604010501060102010402050206020202002d00020101001c00024001"},
    }},
    {"server", "construct a ServerHello handshake message", {
        {"ServerHello", "020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c00130100008400330002"
         "0017002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d64678003023f9de457f1f"
         "09e31dd322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e0745b0d04918d1"
         "4d429a0d50808857736687baff6d07c4682a007c62c3cb4afcb3002b00020304"},
    }},
    {"server", "send handshake record:", {
        {"payload", "020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c00130100008400330002"
         "0017002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d64678003023f9de457f1f"
         "09e31dd322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e0745b0d04918d1"
         "4d429a0d50808857736687baff6d07c4682a007c62c3cb4afcb3002b00020304"},
        {"complete record", "16030300b0020000ac0303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c0013010000"
         "84003300020017002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d64678003023"
         "f9de457f1f09e31dd322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e0745"
         "b0d04918d14d429a0d50808857736687baff6d07c4682a007c62c3cb4afcb3002b00020304"},
    }},
    {"client", "create an ephemeral P-256 key pair:", {
        {"private key", "137b20ef0ca19c55dc62fcb087dbdcde1503cbea087e99f6894c85efad647e4d"},
        {"public key", "04a8d6b4fc93bfb595d867814c45689f74708a33714a9340fe795d7958ef47fd56039baa382032f78d4c4bca4f24f655"
         "60b53b1c076be41bcc099856758545a898"},
    }},
    {"client", "construct a ClientHello handshake message", {
        {"ClientHello", "010001fc0303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee948700000613011303130201"
         "0001cd0000000b0009000006736572766572ff01000100000a00080006001d001700180033004700450017004104a8d6"
         "b4fc93bfb595d867814c45689f74708a33714a9340fe795d7958ef47fd56039baa382032f78d4c4bca4f24f65560b53b"
         "1c076be41bcc099856758545a898002b0003020304000d0020001e040305030603020308040805080604010501060102"
         "010402050206020202002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d6467800"
         "3023f9de457f1f09e31dd322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e"
         "0745b0d04918d14d429a0d50808857736687baff6d07c4682a007c62c3cb4afcb3002d00020101001c00024001001500"
         "af0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000"},
    }},
    {"client", "send handshake record:", {
        {"payload", "010001fc0303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee948700000613011303130201"
         "0001cd0000000b0009000006736572766572ff01000100000a00080006001d001700180033004700450017004104a8d6"
         "b4fc93bfb595d867814c45689f74708a33714a9340fe795d7958ef47fd56039baa382032f78d4c4bca4f24f65560b53b"
         "1c076be41bcc099856758545a898002b0003020304000d0020001e040305030603020308040805080604010501060102"
         "010402050206020202002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d66659d6467800"
         "3023f9de457f1f09e31dd322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c006d12af13e"
         "0745b0d04918d14d429a0d50808857736687baff6d07c4682a007c62c3cb4afcb3002d00020101001c00024001001500"
         "af0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000"},
        {"complete record", "1603030200010001fc0303c05333f1e168f732427e91815a093c990115f161130c68e9be3e563610ee94870000061301"
         "13031302010001cd0000000b0009000006736572766572ff01000100000a00080006001d001700180033004700450017"
         "004104a8d6b4fc93bfb595d867814c45689f74708a33714a9340fe795d7958ef47fd56039baa382032f78d4c4bca4f24"
         "f65560b53b1c076be41bcc099856758545a898002b0003020304000d0020001e04030503060302030804080508060401"
         "0501060102010402050206020202002c00740072c8a457e4f6d9b8f485a6fbb2000000000944e8ada9c6414d2412d666"
         "59d64678003023f9de457f1f09e31dd322cfe0dc9147b7dc3ec0c577b010a0b0a8f28784226e0f061797aa37e95da2c0"
         "06d12af13e0745b0d04918d14d429a0d50808857736687baff6d07c4682a007c62c3cb4afcb3002d00020101001c0002"
         "4001001500af000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "00000000000000000000000000000000000000000000000000000000000000000000000000"},
    }},
    {"server", "extract secret \"early\":", {
        {"salt", ""},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"},
    }},
    {"server", "create an ephemeral P-256 key pair:", {
        {"private key", "78bcc621d5744f6c263c09b68583240b5230d32e2b637ff86d1358bbeb061461"},
        {"public key", "045d8b37a392a9a1ffc6edddd6a17292dd97e65d56585f78ee7ee926c59e00eae233d108a2779fb1f09c29c47709da29"
         "592e13054f9d53c1d58d806b36da0a2337"},
    }},
    {"server", "construct a ServerHello handshake message", {
        {"ServerHello", "020000770303609dd3f4138c66761c3727cd0f34f183b3b9cf192a803901f6daebd0d6f3a00e00130100004f00330045"
         "00170041045d8b37a392a9a1ffc6edddd6a17292dd97e65d56585f78ee7ee926c59e00eae233d108a2779fb1f09c29c4"
         "7709da29592e13054f9d53c1d58d806b36da0a2337002b00020304"},
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
        {"IKM", "3188db87f5fedb1a049be816be7d60a83315246fbb7c3f5eafbe534a5ccd32b9"},
        {"secret", "65fa34a281a47f54a9852cdfdaa044483bdc56e73eb8910d9480b5299d25beef"},
    }},
    {"server", "derive secret \"tls13 c hs traffic\":", {
        {"PRK", "65fa34a281a47f54a9852cdfdaa044483bdc56e73eb8910d9480b5299d25beef"},
        {"hash", "ca8a72ef2b55549535845527ff145a0a5d97795b238051f55068a5d769a59925"},
        {"info", "002012746c7331332063206873207472616666696320ca8a72ef2b55549535845527ff145a0a5d97795b238051f55068"
         "a5d769a59925"},
        {"expanded", "283b461617de926092bef1ff41848243da408623c79b3a445f200a3131070da3"},
    }},
    {"server", "derive secret \"tls13 s hs traffic\":", {
        {"PRK", "65fa34a281a47f54a9852cdfdaa044483bdc56e73eb8910d9480b5299d25beef"},
        {"hash", "ca8a72ef2b55549535845527ff145a0a5d97795b238051f55068a5d769a59925"},
        {"info", "002012746c7331332073206873207472616666696320ca8a72ef2b55549535845527ff145a0a5d97795b238051f55068"
         "a5d769a59925"},
        {"expanded", "da33aa635f66b569e821593a7d77c9aac9643f53af8a77f8c5f74d9194596009"},
    }},
    {"server", "derive secret for master \"tls13 derived\":", {
        {"PRK", "65fa34a281a47f54a9852cdfdaa044483bdc56e73eb8910d9480b5299d25beef"},
        {"hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"info", "00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
         "55"},
        {"expanded", "fe9a6f150acf606b356a450dd24e8db44d3557c2668fc4e72dc5cc966c564750"},
    }},
    {"server", "extract secret \"master\":", {
        {"salt", "fe9a6f150acf606b356a450dd24e8db44d3557c2668fc4e72dc5cc966c564750"},
        {"IKM", "0000000000000000000000000000000000000000000000000000000000000000"},
        {"secret", "2af46f9030daf87dcff54ba58f97bdccc873efbe22768a540991438c191702bf"},
    }},
    {"server", "send handshake record:", {
        {"payload", "020000770303609dd3f4138c66761c3727cd0f34f183b3b9cf192a803901f6daebd0d6f3a00e00130100004f00330045"
         "00170041045d8b37a392a9a1ffc6edddd6a17292dd97e65d56585f78ee7ee926c59e00eae233d108a2779fb1f09c29c4"
         "7709da29592e13054f9d53c1d58d806b36da0a2337002b00020304"},
        {"complete record", "160303007b020000770303609dd3f4138c66761c3727cd0f34f183b3b9cf192a803901f6daebd0d6f3a00e0013010000"
         "4f0033004500170041045d8b37a392a9a1ffc6edddd6a17292dd97e65d56585f78ee7ee926c59e00eae233d108a2779f"
         "b1f09c29c47709da29592e13054f9d53c1d58d806b36da0a2337002b00020304"},
    }},
    {"server", "derive write traffic keys for handshake data:", {
        {"PRK", "da33aa635f66b569e821593a7d77c9aac9643f53af8a77f8c5f74d9194596009"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "2e676386f371e132ee7e38e66d527f6a"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "97e6e0f9c7ac739b57fbbc48"},
    }},
    {"server", "construct a EncryptedExtensions handshake message", {
        {"EncryptedExtensions", "080000180016000a0008000600170018001d001c0002400100000000"},
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
        {"CertificateVerify", "0f000084080400803eebe4ed9e963ff985631ab1717ab1c13ae32bac5acbccb69f38cf776d9ef1060127a9c05cb850f7"
         "c01312693bf13a94af9d223ce45c54606e72ff0975a1399c21258ace40dd3804adfc19d58b39f9cf03d61bed43953124"
         "9f07d4bba3ad5a19af45d5e79d51d627877628cf7592da0a198062f75757dc47485d1bad99aca763"},
    }},
    {"server", "calculate finished \"tls13 finished\":", {
        {"PRK", "da33aa635f66b569e821593a7d77c9aac9643f53af8a77f8c5f74d9194596009"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "0b542692362af58fa7e8bc4aca6b5f9dcc830208cda7e31dce9352a3f6c8a36f"},
        {"finished", "53a1537c8090112a9b29735f43d06bb1e9af915c7a587a1542a2f18456c01bb6"},
    }},
    {"server", "construct a Finished handshake message", {
        {"Finished", "1400002053a1537c8090112a9b29735f43d06bb1e9af915c7a587a1542a2f18456c01bb6"},
    }},
    {"server", "send handshake record:", {
        {"payload", "080000180016000a0008000600170018001d001c00024001000000000b0001b9000001b50001b0308201ac30820115a0"
         "03020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361301e170d313630373330"
         "3031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a8648"
         "86f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a24"
         "61eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d44"
         "9a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f"
         "7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d0101"
         "0b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172"
         "f9319cf36b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c"
         "54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de100000f000084080400"
         "803eebe4ed9e963ff985631ab1717ab1c13ae32bac5acbccb69f38cf776d9ef1060127a9c05cb850f7c01312693bf13a"
         "94af9d223ce45c54606e72ff0975a1399c21258ace40dd3804adfc19d58b39f9cf03d61bed439531249f07d4bba3ad5a"
         "19af45d5e79d51d627877628cf7592da0a198062f75757dc47485d1bad99aca7631400002053a1537c8090112a9b2973"
         "5f43d06bb1e9af915c7a587a1542a2f18456c01bb6"},
        {"complete record", "1703030296600da4860f2ee137f0fd4d12412b33e57c44be81466e6a3424008d14be7a3386403bfef354a92f19d986dd"
         "4d49c068f923f2b0738b7ede774b71fefcf840355d805cde32cd1146190af359f6a2d4e5b38da486f6af1221ab395d86"
         "c8f9053f6eb014f871ae46857d7afbccc0facc4e203c908c2677834fc2ae07002a3c6d2de7f9d3690796c0c6ea43e2d6"
         "f2e95e503ca6f08ee42cbb4e0d3511bddc68d6a6f4322e4b767295c4f77c3c22788554504a0b32c43a31ee643b786f5e"
         "abb0d29b613ade67063b7736fc93a97df8910dc7a29f9e33043c69ef7b6510e26a77655d34c0776d9459dcdd3d7e958f"
         "e1fc5793f1a2b5a1ba7e5328192bbd5bb3a50b3aef2cc632e6c5fdf4a6700da221505b00e6a9ad269590fae29ac067cc"
         "375789cef3b291bca710fbdd954c8cd7ef81c20942f16bd0eb1a7ecff9c81bee122ec40b6399e70c929bed3f474f4a0f"
         "a0bbf27d384d1caf6df93576a60064ef4446291f65ffb1806f72197de7775aca9dce57b7f629d0799722717f199e01bf"
         "717deb8cfeeb555090ddcf37542ada0f7a92727b04c0c9f98f9846ec42a61bc5226954cec4a6d86c73d9d75c31f4549a"
         "c37c1f1cb85c8cc0376b36d39b0545540d4d05f8842bcf88c38e3bf72762f9b08524f48781a72ddff9e93543d29b4619"
         "d5df8be66159e2634e92b78692677af588d7cf4210e74b625afb333f3c37c48d95852eb0071c2b3a387db5118f48a850"
         "199d5be16b0c660f3970f535c3f777f78dd7040fda6824e52e86c64a81cb9703038a416ed267ac149439cc1b52a77d24"
         "99209d3baa272e57d29a4eead44bf2111c47ef95d363c8bd0209d314516a6aa54a437421232f82bf2af78200e54669f6"
         "1038c1dca38003ad51c58c2f0847ee3581618601e5d1756d529296de73eaff5403f8dbf1843f78e7edc27c"},
    }},
    {"server", "derive secret \"tls13 c ap traffic\":", {
        {"PRK", "2af46f9030daf87dcff54ba58f97bdccc873efbe22768a540991438c191702bf"},
        {"hash", "680d6ab7a073a74ec9a62a64e7478f2d6550fa0c657b3e0280c4af8a0e5021b9"},
        {"info", "002012746c7331332063206170207472616666696320680d6ab7a073a74ec9a62a64e7478f2d6550fa0c657b3e0280c4"
         "af8a0e5021b9"},
        {"expanded", "3c7a21912047af944c1668a9e31953af4bfb32685aca3c4a34769041c3978084"},
    }},
    {"server", "derive secret \"tls13 s ap traffic\":", {
        {"PRK", "2af46f9030daf87dcff54ba58f97bdccc873efbe22768a540991438c191702bf"},
        {"hash", "680d6ab7a073a74ec9a62a64e7478f2d6550fa0c657b3e0280c4af8a0e5021b9"},
        {"info", "002012746c7331332073206170207472616666696320680d6ab7a073a74ec9a62a64e7478f2d6550fa0c657b3e0280c4"
         "af8a0e5021b9"},
        {"expanded", "0d0f550ce40f648a1fee8977f6954eaffa58f1cdd02093bb2418441b52628913"},
    }},
    {"server", "derive secret \"tls13 exp master\":", {
        {"PRK", "2af46f9030daf87dcff54ba58f97bdccc873efbe22768a540991438c191702bf"},
        {"hash", "680d6ab7a073a74ec9a62a64e7478f2d6550fa0c657b3e0280c4af8a0e5021b9"},
        {"info", "002010746c73313320657870206d617374657220680d6ab7a073a74ec9a62a64e7478f2d6550fa0c657b3e0280c4af8a"
         "0e5021b9"},
        {"expanded", "adabe284c9f1af6873cf2cf1612847ec817c8d5f2b64f6de76e7be9e895fbfee"},
    }},
    {"server", "derive write traffic keys for application data:", {
        {"PRK", "0d0f550ce40f648a1fee8977f6954eaffa58f1cdd02093bb2418441b52628913"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "e6b64f01beb5154e0d2da9d4481f87de"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "d7d2ab240f392a7b5e2fc01a"},
    }},
    {"server", "derive read traffic keys for handshake data:", {
        {"PRK", "283b461617de926092bef1ff41848243da408623c79b3a445f200a3131070da3"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "a80abeb95f0945e62facdfa3b6c7c96f"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "f0c5b7d1139dca1f31d5d333"},
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
        {"PRK", "283b461617de926092bef1ff41848243da408623c79b3a445f200a3131070da3"},
        {"hash", ""},
        {"info", "00200e746c7331332066696e697368656400"},
        {"expanded", "1dcc18c65292fb1402d340748834d957ab95f93a1439a82218c35397769b9718"},
        {"finished", "0e1504631ac546cd682f3720266675959469403050825e5d14ae453b07384b31"},
    }},
    {"client", "construct a Finished handshake message", {
        {"Finished", "140000200e1504631ac546cd682f3720266675959469403050825e5d14ae453b07384b31"},
    }},
    {"client", "send handshake record:", {
        {"payload", "140000200e1504631ac546cd682f3720266675959469403050825e5d14ae453b07384b31"},
        {"complete record", "17030300356789a8b91485f56bdf308087d3b4130efb1bbb6aa62c8947d991c7b1fea6ea7dd03b104ea0b0526ee2b3a8"
         "84b39fe03d1fd2e58635"},
    }},
    {"client", "derive write traffic keys for application data:", {
        {"PRK", "3c7a21912047af944c1668a9e31953af4bfb32685aca3c4a34769041c3978084"},
        {"key info", "001009746c733133206b657900"},
        {"key expanded", "26545d98e74c85a56295c036c58f2b24"},
        {"iv info", "000c08746c73313320697600"},
        {"iv expanded", "491e4e6d4ab9350701d9753d"},
    }},
    {"client", "derive secret \"tls13 res master\":", {
        {"PRK", "2af46f9030daf87dcff54ba58f97bdccc873efbe22768a540991438c191702bf"},
        {"hash", "ffcf49ea1387ffb6649159bf3d2be0226943b8287b096eeaf154937a21b76055"},
        {"info", "002010746c73313320726573206d617374657220ffcf49ea1387ffb6649159bf3d2be0226943b8287b096eeaf154937a"
         "21b76055"},
        {"expanded", "5a3c5d8ed25cb13bd376a7b9012eb93c47cb1946b6caff78f5ab2ef5f19e4519"},
    }},
    {"server", "calculate finished \"tls13 finished\" (same as client)", {
    }},
    {"server", "derive read traffic keys for application data (same as client application data write traffic keys)", {
    }},
    {"server", "derive secret \"tls13 res master\" (same as client)", {
    }},
    {"client", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013e42cc34c179097d68cd689fd1a8de7176dc494"},
    }},
    {"server", "send alert record:", {
        {"payload", "0100"},
        {"complete record", "1703030013c510ed1c391d76e3ca1bb208b5978ab232e563"},
    }},
};

/// P-256 ECDH from a fixed private scalar. The provider only generates fresh P-256
/// shares (there is no use for a fixed one outside vectors), so this test asks Botan
/// directly.
Bytes p256_shared_secret(const Bytes& private_scalar, const Bytes& peer_public) {
    Botan::ECDH_PrivateKey key(Botan::system_rng(), Botan::EC_Group("secp256r1"),
                               Botan::BigInt(private_scalar.data(), private_scalar.size()));
    Botan::PK_Key_Agreement agreement(key, Botan::system_rng(), "Raw");
    const auto secret = agreement.derive_key(0, peer_public.data(), peer_public.size()).bits_of();
    return Bytes(secret.begin(), secret.end());
}


TEST_CASE_TEMPLATE("RFC 8448 section 5: every HKDF step recomputed from its printed inputs", Crypto, TAPSEC_TEST_PROVIDERS) {
    CHECK(check_every_hkdf_step<Crypto>(section5, TLS_AES_128_GCM_SHA256) == 18);
}

TEST_CASE_TEMPLATE("RFC 8448 section 5: HelloRetryRequest transcript, key schedule and records, byte for byte", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& suite = TLS_AES_128_GCM_SHA256;
    const auto& t = section5;

    const Bytes client_hello1 = value(t, "client", "construct a ClientHello", "ClientHello", 0);
    const Bytes hello_retry = value(t, "server", "construct a ServerHello", "ServerHello", 0);
    const Bytes client_hello2 = value(t, "client", "construct a ClientHello", "ClientHello", 1);
    const Bytes server_hello = value(t, "server", "construct a ServerHello", "ServerHello", 1);
    check_plaintext_record(step(t, "client", "send handshake record", 0), 0x0301);
    check_plaintext_record(step(t, "server", "send handshake record", 0), 0x0303);
    check_plaintext_record(step(t, "client", "send handshake record", 1), 0x0303);
    check_plaintext_record(step(t, "server", "send handshake record", 1), 0x0303);

    // The HRR is a ServerHello whose random is SHA-256("HelloRetryRequest") (4.1.3).
    CHECK(hex(ByteView(hello_retry).subspan(6, 32)) ==
          hex(Crypto::hash(crypto::HashAlgorithm::sha256, as_bytes("HelloRetryRequest"))));

    // ClientHello1 becomes message_hash || 00 00 20 || Hash(ClientHello1) (4.4.1).
    Transcript<Crypto> transcript;
    transcript.add(client_hello1);
    transcript.set_hash(suite.hash);  // the client learns the suite from the HRR
    transcript.restart_for_hello_retry();
    Bytes synthetic{254, 0, 0, 32};
    append(synthetic, Crypto::hash(suite.hash, client_hello1));
    transcript.add(hello_retry);
    transcript.add(client_hello2);
    transcript.add(server_hello);
    Bytes explicit_transcript = synthetic;
    for (const auto* m : {&hello_retry, &client_hello2, &server_hello}) append(explicit_transcript, *m);
    CHECK(hex(transcript.current_hash()) == hex(Crypto::hash(suite.hash, explicit_transcript)));

    // P-256 key shares from the printed private keys.
    const Bytes client_private = value(t, "client", "create an ephemeral P-256", "private key");
    const Bytes server_private = value(t, "server", "create an ephemeral P-256", "private key");
    const Bytes client_public = value(t, "client", "create an ephemeral P-256", "public key");
    const Bytes server_public = value(t, "server", "create an ephemeral P-256", "public key");
    const Bytes shared = p256_shared_secret(client_private, server_public);
    CHECK(hex(shared) == hex(p256_shared_secret(server_private, client_public)));

    check_full_handshake_after_hello(t, suite, transcript, shared, {"EncryptedExtensions", "Certificate", "CertificateVerify"},
                                     {}, 2, 2);
}

// ---- Section 5 through the real state machines (see tls13_rfc8448_replay_test.cpp for
// Section 3 and docs/tls13-key-schedule.md for where byte-for-byte stops and why) ----

TEST_CASE_TEMPLATE("RFC 8448 section 5: the trace's HelloRetryRequest and server flight through the real ClientHandshake", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& t = section5;
    const Bytes trace_hello1 = value(t, "client", "construct a ClientHello", "ClientHello", 0);
    const Bytes trace_hello2 = value(t, "client", "construct a ClientHello", "ClientHello", 1);
    auto random = std::make_shared<ScriptedRandom>();
    random->script = {Bytes(trace_hello1.begin() + 6, trace_hello1.begin() + 38),
                      value(t, "client", "create an ephemeral x25519", "private key"),
                      value(t, "client", "create an ephemeral P-256", "private key")};
    tls13::Config config;
    config.server_name = "server";
    config.cipher_suites = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_256_GCM_SHA384"};
    config.groups = {"x25519", "secp256r1"};
    config.record_size_limit = 16385;
    config.middlebox_compatibility = false;
    config.random = ScriptedRandom::install(random);
    config.wall_clock = during_trace;
    config.delegate_authentication = true;  // the trace's certificate names "rsa", not "server"
    const Bytes trace_leaf = certificate_der(value(t, "server", "construct a Certificate", "Certificate"));
    config.validate_peer = [&](const PeerIdentity& peer) -> std::error_code {
        if (peer.certificate_chain_der == std::vector<Bytes>{trace_leaf}) return {};
        return Errc::certificate_untrusted;
    };
    ClientHandshake<Crypto> client(config);
    REQUIRE_FALSE(client.start({}));
    auto first = drain(client);
    REQUIRE(first.sent.size() == 1);
    const Bytes hello1 = first.sent[0].second;

    // The trace's HelloRetryRequest (P-256 and a cookie): the second ClientHello carries the
    // P-256 share made from the injected key, byte for byte, and echoes the cookie.
    const Bytes hello_retry = value(t, "server", "construct a ServerHello", "ServerHello", 0);
    REQUIRE_FALSE(client.handle(raw(hello_retry)));
    auto second = drain(client);
    REQUIRE(second.sent.size() == 1);
    const Bytes hello2 = second.sent[0].second;
    CHECK(random->draws == std::vector<std::size_t>{32, 32, 32});
    auto ours = decode_client_hello(ByteView(hello2).subspan(4));
    auto trace = decode_client_hello(ByteView(trace_hello2).subspan(4));
    auto retry = decode_server_hello(ByteView(hello_retry).subspan(4));
    REQUIRE(ours.ok());
    REQUIRE(trace.ok());
    REQUIRE(retry.ok());
    CHECK(ours->random == trace->random);
    CHECK(ours->cipher_suites == trace->cipher_suites);
    REQUIRE(ours->key_shares);
    REQUIRE(trace->key_shares);
    REQUIRE(ours->key_shares->size() == 1);
    CHECK(ours->key_shares->front().group == group::secp256r1);
    CHECK(hex(ours->key_shares->front().key_exchange) == hex(trace->key_shares->front().key_exchange));
    CHECK(hex(ours->key_shares->front().key_exchange) == hex(value(t, "client", "create an ephemeral P-256", "public key")));
    REQUIRE(ours->cookie);
    REQUIRE(trace->cookie);
    CHECK(hex(*ours->cookie) == hex(*trace->cookie));
    CHECK(hex(*ours->cookie) == hex(*retry->cookie));

    // The trace's ServerHello: the P-256 agreement gives the trace's shared secret (checked
    // through the installed keys over our transcript).
    const Bytes server_hello = value(t, "server", "construct a ServerHello", "ServerHello", 1);
    REQUIRE_FALSE(client.handle(raw(server_hello)));
    auto keys = drain(client);
    REQUIRE(keys.read_keys.size() == 1);
    Transcript<Crypto> transcript;
    transcript.add(hello1);
    transcript.set_hash(crypto::HashAlgorithm::sha256);
    transcript.restart_for_hello_retry();
    for (const auto* m : {&hello_retry, &hello2, &server_hello}) transcript.add(*m);
    auto hs = EarlySecret<Crypto>::without_psk(TLS_AES_128_GCM_SHA256)
                  .into_handshake(value(t, "server", "extract secret \"handshake\"", "IKM"));
    CHECK(hex(keys.read_keys[0].secret) == hex(hs.server_handshake_traffic_secret(transcript.current_hash()).secret));

    // EncryptedExtensions (its supported_groups are ours here) and Certificate: accepted;
    // CertificateVerify signs the trace's transcript, not ours: refused.
    REQUIRE_FALSE(client.handle(raw(value(t, "server", "construct a EncryptedExtensions", "EncryptedExtensions"))));
    REQUIRE_FALSE(client.handle(raw(value(t, "server", "construct a Certificate", "Certificate"))));
    CHECK(client.handle(raw(value(t, "server", "construct a CertificateVerify", "CertificateVerify"))) ==
          Error::bad_certificate_verify);
}

TEST_CASE_TEMPLATE("RFC 8448 section 5: the trace's first ClientHello through the real ServerHandshake", Crypto, TAPSEC_TEST_PROVIDERS) {
    const auto& t = section5;
    const Bytes certificate = value(t, "server", "construct a Certificate", "Certificate");
    tls13::Config config;
    config.identity = Identity(certificate_pem(certificate_der(certificate)), rfc8448_rsa_key_pem());
    config.groups = {"secp256r1", "x25519"};  // the trace's server prefers P-256
    config.middlebox_compatibility = false;
    config.tickets_to_send = 0;
    config.cookie_key = TicketKey::from_bytes(Bytes(16, 0x42), Bytes(32, 0x24));
    config.wall_clock = during_trace;
    auto random = std::make_shared<ScriptedRandom>();
    config.random = ScriptedRandom::install(random);
    ServerHandshake<Crypto> server(config);
    REQUIRE_FALSE(server.start());
    REQUIRE_FALSE(server.handle(raw(value(t, "client", "construct a ClientHello", "ClientHello", 0))));
    auto flight = drain(server);
    REQUIRE(flight.sent.size() == 1);
    // The HelloRetryRequest is the trace's but for the cookie, which is each server's own
    // sealed state (NSS's format versus ours): with the trace's cookie put in, our encoding
    // is the trace's byte for byte.
    const Bytes trace_retry = value(t, "server", "construct a ServerHello", "ServerHello", 0);
    auto ours = decode_server_hello(ByteView(flight.sent[0].second).subspan(4));
    auto trace = decode_server_hello(ByteView(trace_retry).subspan(4));
    REQUIRE(ours.ok());
    REQUIRE(trace.ok());
    CHECK(ours->is_hello_retry_request());
    CHECK(ours->selected_group == trace->selected_group);
    REQUIRE(ours->cookie);
    ours->cookie = trace->cookie;
    CHECK(hex(encode(*ours)) == hex(trace_retry));
    // The only draw was the cookie's sealing nonce.
    CHECK(random->draws == std::vector<std::size_t>{12});
    // The trace's second ClientHello brings NSS's cookie back, sealed under a key this
    // server does not hold: refused as such.
    CHECK(server.handle(raw(value(t, "client", "construct a ClientHello", "ClientHello", 1))) ==
          Error::hello_retry_cookie_unknown_key);
}

}  // namespace tls13_rfc8448_hello_retry_test
