import CompressNIO
import NIOCore
import Testing
import XunfangWire

func frame(_ payload: [UInt8], flags: UInt8 = 0) -> [UInt8] {
    let length = UInt32(payload.count)
    return [flags, UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)] + payload
}

func decodeAll(_ chunks: [[UInt8]], limits: WireLimits = WireLimits()) throws(WireError) -> [[UInt8]] {
    var reader = FrameReader(limits: limits)
    var out: [[UInt8]] = []
    for chunk in chunks {
        var buffer = ByteBuffer(bytes: chunk)
        reader.append(&buffer)
        while let payload = try reader.next() { out.append(Array(payload.readableBytesView)) }
    }
    return out
}

@Suite("Framing")
struct FramingTests {
    let payloads: [[UInt8]] = [Array("hello".utf8), [], Array(repeating: 0xAB, count: 300), [0x00]]

    var stream: [UInt8] { payloads.flatMap { frame($0) } }

    @Test("bytes fed one at a time give the same frames")
    func oneByteAtATime() throws {
        #expect(try decodeAll(stream.map { [$0] }) == payloads)
    }

    @Test("a stream split at every offset gives the same frames")
    func everySplit() throws {
        let bytes = stream
        for offset in 0...bytes.count {
            #expect(try decodeAll([Array(bytes[..<offset]), Array(bytes[offset...])]) == payloads, "split at \(offset)")
        }
    }

    @Test("frames of every size cut into reads of random lengths give the same frames")
    func randomReads() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let sizes = (0..<Int.random(in: 1...40, using: &generator)).map { _ in Int.random(in: 0...3_000, using: &generator) }
            let expected = sizes.map { size in (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) } }
            let bytes = expected.flatMap { frame($0) }
            var chunks: [[UInt8]] = []
            var offset = 0
            while offset < bytes.count {
                let length = min(bytes.count - offset, Int.random(in: 1...700, using: &generator))
                chunks.append(Array(bytes[offset..<(offset + length)]))
                offset += length
            }
            #expect(try decodeAll(chunks) == expected)
        }
    }

    @Test("many frames in one read")
    func coalesced() throws {
        #expect(try decodeAll([stream]) == payloads)
    }

    @Test("a zero-length payload is a valid frame")
    func zeroLength() throws {
        #expect(try decodeAll([frame([])]) == [[]])
    }

    @Test("an oversize length is rejected from the 5-byte prefix alone, before the body arrives")
    func oversize() {
        let prefixOnly = Array(frame(Array(repeating: 1, count: 2_000)).prefix(5))
        #expect(throws: WireError.self) { try decodeAll([prefixOnly], limits: WireLimits(maxFrameBytes: 1_024)) }
        do { _ = try decodeAll([prefixOnly], limits: WireLimits(maxFrameBytes: 1_024)) } catch { #expect(error.code == .frameTooLarge) }
    }

    @Test("a 4 GiB length claim is refused without allocating")
    func hugeLength() {
        do {
            _ = try decodeAll([[0, 0xFF, 0xFF, 0xFF, 0xFF]])
            Issue.record("accepted")
        } catch {
            #expect(error.code == .frameTooLarge)
            #expect(error.code.status == 8)
        }
    }

    @Test("reserved flag bits are refused", arguments: [0x02, 0x80, 0xFF] as [UInt8])
    func reservedFlags(flags: UInt8) {
        do {
            _ = try decodeAll([frame([1, 2, 3], flags: flags)])
            Issue.record("accepted")
        } catch {
            #expect(error.code == .reservedFlagBits)
        }
    }

    @Test("a compressed frame round-trips through the encoder")
    func compressedRoundTrip() throws {
        let payload = ByteBuffer(bytes: Array(repeating: UInt8(ascii: "x"), count: 10_000))
        var out = ByteBuffer()
        FrameEncoder.write(payload: payload, compressed: true, into: &out)
        #expect(out.getInteger(at: 0, as: UInt8.self) == 1)
        #expect(out.readableBytes < 1_000)
        #expect(try decodeAll([Array(out.readableBytesView)]) == [Array(payload.readableBytesView)])
    }

    @Test("corrupt zlib data is refused")
    func corruptZlib() {
        do {
            _ = try decodeAll([frame([0x78, 0x9C, 0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x11], flags: 1)])
            Issue.record("accepted")
        } catch {
            #expect(error.code == .corruptCompression)
        }
    }

    @Test("truncated zlib data is refused")
    func truncatedZlib() throws {
        var source = ByteBuffer(bytes: Array("the quick brown fox jumps over the lazy dog, again and again".utf8))
        let deflated = try source.compress(with: .zlib())
        let truncated = Array(deflated.readableBytesView.dropLast(6))
        do {
            _ = try decodeAll([frame(truncated, flags: 1)])
            Issue.record("accepted")
        } catch {
            #expect(error.code == .corruptCompression)
        }
    }

    @Test("a decompression bomb stops at the decompressed limit")
    func bomb() throws {
        var zeros = ByteBuffer(repeating: 0, count: 64 * 1024 * 1024)
        let bomb = try zeros.compress(with: .zlib())
        #expect(bomb.readableBytes < 200_000)
        do {
            _ = try decodeAll([frame(Array(bomb.readableBytesView), flags: 1)],
                              limits: WireLimits(maxFrameBytes: 1 << 20, maxDecompressedBytes: 1 << 20))
            Issue.record("accepted")
        } catch {
            #expect(error.code == .decompressedTooLarge)
        }
    }

    @Test("the decoder never consumes a partial frame")
    func partialNotConsumed() throws {
        let decoder = FrameDecoder()
        var buffer = ByteBuffer(bytes: Array(frame([1, 2, 3, 4]).prefix(7)))
        #expect(try decoder.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 7)
    }
}
