public import NIOCore
import CompressNIO

/// Why a zlib stream was refused.
public enum ZlibError: Error, Sendable, Equatable {
    /// Not a zlib stream, truncated, or its Adler-32 trailer does not match.
    case corrupt(String)
    /// It inflates past the caller's limit.
    case tooLarge(limit: Int)
}

/// Whole zlib streams (RFC 1950), shared by the wire (compressed frames) and the
/// geography readers (OSM PBF blobs), so both refuse damaged data the same way.
public enum Zlib {
    /// Inflates a whole zlib stream to at most `limit` bytes, checking its Adler-32 trailer.
    public static func inflate(_ payload: inout ByteBuffer, limit: Int) throws(ZlibError) -> ByteBuffer {
        // The zlib stream ends with the Adler-32 of the inflated bytes. The inflater stops
        // quietly on a truncated stream, so the trailer is what proves the data is whole.
        guard payload.readableBytes >= 6,
              let trailer = payload.getInteger(at: payload.writerIndex - 4, endianness: .big, as: UInt32.self) else {
            throw .corrupt("too short to be a zlib stream")
        }
        do {
            let inflated = try payload.decompress(with: .zlib(), maxSize: limit)
            guard adler32(inflated) == trailer else { throw ZlibError.corrupt("truncated or corrupt (Adler-32 mismatch)") }
            return inflated
        } catch let error as ZlibError {
            throw error
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw .tooLarge(limit: limit)
        } catch {
            throw .corrupt("not valid zlib data (\(error))")
        }
    }

    /// Deflates `payload` into a zlib stream; nil if the compressor fails.
    public static func deflate(_ payload: ByteBuffer) -> ByteBuffer? {
        var source = payload
        return try? source.compress(with: .zlib())
    }

    static func adler32(_ buffer: ByteBuffer) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        buffer.withUnsafeReadableBytes { bytes in
            var index = 0
            while index < bytes.count {
                // 5552 is the most bytes that can be summed before the 32-bit sums must be reduced.
                let end = min(index + 5_552, bytes.count)
                while index < end {
                    a &+= UInt32(bytes[index])
                    b &+= a
                    index += 1
                }
                a %= 65_521
                b %= 65_521
            }
        }
        return (b << 16) | a
    }
}
