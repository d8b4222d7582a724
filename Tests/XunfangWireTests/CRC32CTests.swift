import Foundation
import Testing
import XunfangCodec

@Suite("CRC-32C")
struct CRC32CTests {
    @Test("the standard check value and RFC 3720's test vectors")
    func vectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map(UInt8.init)) == 0x113F_DB5C)
    }

    @Test("eight bytes a step equals one at a time, at every length and alignment, for any kind of byte sequence")
    func slicing() {
        func reference(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            }
            return crc ^ 0xFFFF_FFFF
        }
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &random) }
        for start in 0..<9 {
            for end in stride(from: start, through: 300, by: 7) {
                let slice = bytes[start..<end]
                #expect(CRC32C.checksum(slice) == reference(Array(slice)))
            }
        }
        #expect(CRC32C.checksum(Data(bytes)) == reference(bytes))
        #expect(CRC32C.checksum(bytes.lazy.map { $0 }) == reference(bytes), "a sequence without contiguous storage")
    }
}
