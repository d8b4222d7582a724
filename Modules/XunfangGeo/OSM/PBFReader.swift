import Foundation
import NIOCore
import SwiftProtobuf
import XunfangCodec

/// Reads the blocks of an OSM PBF file one at a time, checking every length against the
/// format's limits before reading or inflating it, so a corrupt or hostile file costs
/// at most one block's worth of memory and gets an error naming the block.
struct PBFReader {
    /// The format's own limits: headers under 64 KiB, blobs under 32 MiB.
    static let maxHeaderBytes = 64 * 1024
    static let maxBlobBytes = 32 * 1024 * 1024

    struct Block {
        var index: Int
        var offset: Int
        var type: String
        var payload: ByteBuffer
    }

    private let handle: FileHandle
    private let path: String
    let totalBytes: Int
    private(set) var offset = 0
    private var blockIndex = 0

    init(path: String) throws(GeoError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw GeoError(.unreadableFile, "cannot open \(path)")
        }
        self.handle = handle
        self.path = path
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        totalBytes = (attributes?[.size] as? Int) ?? 0
    }

    /// The next block, inflated, or nil at the end of the file.
    mutating func next() throws(GeoError) -> Block? {
        let start = offset
        let index = blockIndex
        func fail(_ reason: String) -> GeoError {
            GeoError(.invalidInput, "\(path): block \(index) at byte \(start): \(reason)")
        }
        let lengthBytes = try read(4)
        if lengthBytes.isEmpty { return nil }
        guard lengthBytes.count == 4 else { throw fail("file ends inside a block length (\(lengthBytes.count) trailing bytes)") }
        let headerLength = lengthBytes.reduce(0) { $0 << 8 | Int($1) }
        guard headerLength > 0, headerLength <= Self.maxHeaderBytes else {
            throw fail("blob header length \(headerLength) is outside 1...\(Self.maxHeaderBytes)")
        }
        let headerBytes = try read(headerLength)
        guard headerBytes.count == headerLength else { throw fail("file ends inside the blob header") }
        let header: Osmpbf_BlobHeader
        do {
            header = try Osmpbf_BlobHeader(serializedBytes: headerBytes)
        } catch {
            throw fail("blob header is not valid protobuf (\(error))")
        }
        guard header.datasize > 0, Int(header.datasize) <= Self.maxBlobBytes else {
            throw fail("\(header.type) blob size \(header.datasize) is outside 1...\(Self.maxBlobBytes)")
        }
        let blobBytes = try read(Int(header.datasize))
        guard blobBytes.count == Int(header.datasize) else {
            throw fail("file ends inside the \(header.type) blob (\(header.datasize) bytes announced)")
        }
        let blob: Osmpbf_Blob
        do {
            blob = try Osmpbf_Blob(serializedBytes: blobBytes)
        } catch {
            throw fail("\(header.type) blob is not valid protobuf (\(error))")
        }
        let payload: ByteBuffer
        switch blob.data {
        case .raw(let raw):
            payload = ByteBuffer(bytes: raw)
        case .zlibData(let compressed):
            guard blob.rawSize > 0, Int(blob.rawSize) <= Self.maxBlobBytes else {
                throw fail("zlib blob announces \(blob.rawSize) inflated bytes, outside 1...\(Self.maxBlobBytes)")
            }
            var buffer = ByteBuffer(bytes: compressed)
            do throws(ZlibError) {
                payload = try Zlib.inflate(&buffer, limit: Int(blob.rawSize))
            } catch {
                switch error {
                case .tooLarge(let limit): throw fail("zlib data inflates past the announced \(limit) bytes")
                case .corrupt(let why): throw fail("zlib data is \(why)")
                }
            }
            guard payload.readableBytes == Int(blob.rawSize) else {
                throw fail("zlib data inflates to \(payload.readableBytes) bytes, not the announced \(blob.rawSize)")
            }
        case .lzmaData: throw fail("LZMA-compressed blobs are not supported (convert with osmium cat)")
        case .obsoleteBzip2Data: throw fail("bzip2-compressed blobs are obsolete and not supported")
        case .lz4Data: throw fail("LZ4-compressed blobs are not supported (convert with osmium cat)")
        case .zstdData: throw fail("Zstandard-compressed blobs are not supported (convert with osmium cat)")
        case nil: throw fail("blob has no data")
        }
        blockIndex += 1
        return Block(index: index, offset: start, type: header.type, payload: payload)
    }

    /// Up to `count` bytes; fewer only at the end of the file.
    private mutating func read(_ count: Int) throws(GeoError) -> Data {
        let data: Data
        do {
            data = try handle.read(upToCount: count) ?? Data()
        } catch {
            throw GeoError(.unreadableFile, "\(path): read failed at byte \(offset): \(error)")
        }
        offset += data.count
        return data
    }
}
