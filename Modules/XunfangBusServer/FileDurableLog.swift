import Foundation
import Logging
import NIOCore
import NIOPosix
import SwiftProtobuf
import XunfangBus
import XunfangProto
#if canImport(Glibc)
import Glibc
#endif

/// The durable log on disk: numbered segment files of checksummed records.
///
/// Appends are encoded on the broker's event loop into a pending buffer; one sync at a
/// time runs on a thread pool (write + fdatasync), and every append that arrived
/// meanwhile rides on the next one, so many publishers share each fdatasync. The broker
/// hears `logSynced(through:)` on its loop and only then acknowledges publishers.
///
/// Recovery reads every segment in order and stops at the first record whose length or
/// checksum is wrong (a torn write from a crash): the tail is cut off there.
final class FileDurableLog: DurableLog {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let directory: String
    private let segmentBytes: Int
    private let eventLoop: any EventLoop
    private let pool: NIOThreadPool
    private let logger: Logger
    /// Set after init; the log reports syncs to it on the event loop.
    weak var broker: Broker?

    private var nextSequence: UInt64 = 1
    private var pending: ByteBuffer
    private var pendingThrough: UInt64 = 0
    private var syncInFlight = false
    private var writer: SegmentWriter
    private var recovered = RecoveredLog()

    init(directory: String, segmentBytes: Int, eventLoop: any EventLoop, pool: NIOThreadPool, logger: Logger) throws {
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.eventLoop = eventLoop
        self.pool = pool
        self.logger = logger
        self.pending = ByteBuffer()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let segments = try Self.segmentNumbers(in: directory)
        var lastSegment = segments.last ?? 1
        var state = RecoveredLog()
        var maxSequence: UInt64 = 0
        for (index, number) in segments.enumerated() {
            let path = Self.path(directory, number)
            let validLength = try Self.replay(path: path) { record in
                switch record.kind {
                case .message(let message):
                    state.messages.append(message)
                    maxSequence = max(maxSequence, message.sequence)
                case .ack(let ack):
                    state.acks[ack.consumer, default: []].formUnion(ack.sequences)
                case .consumer(let consumer):
                    state.consumers[consumer.name] = consumer.pattern
                case nil:
                    break
                }
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            if validLength < size {
                logger.warning("durable log: cut a torn tail", metadata: ["xunfang.segment": "\(path)", "xunfang.bytes": "\(size - validLength)"])
                guard truncate(path, off_t(validLength)) == 0 else { throw Failure(description: "cannot truncate \(path)") }
                if index != segments.count - 1 {
                    // A torn record in the middle means later segments are not trustworthy either.
                    throw Failure(description: "durable log segment \(path) is corrupt before the last segment; refusing to start")
                }
            }
        }
        if segments.isEmpty { lastSegment = 1 }
        // Acked messages need not be replayed to the broker beyond what consumers still need.
        self.recovered = state
        self.nextSequence = maxSequence + 1
        self.writer = try SegmentWriter(directory: directory, number: lastSegment, segmentBytes: segmentBytes)
    }

    static func path(_ directory: String, _ number: Int) -> String {
        "\(directory)/\(String(format: "%020d", number)).log"
    }

    static func segmentNumbers(in directory: String) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".log") }
            .compactMap { Int($0.dropLast(4)) }
            .sorted()
    }

    /// Calls `body` for every intact record; returns the byte length of the intact prefix.
    static func replay(path: String, _ visit: (Xunfang_Bus_V1_LogRecord) -> Void) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        var offset = 0
        let bytes = [UInt8](data)
        while offset + 8 <= bytes.count {
            let length = Int(UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
            let crc = UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) })
            guard length <= 64 * 1024 * 1024, offset + 8 + length <= bytes.count else { break }
            let body = bytes[(offset + 8)..<(offset + 8 + length)]
            guard CRC32C.checksum(body) == crc, let record = try? Xunfang_Bus_V1_LogRecord(serializedBytes: Array(body)) else { break }
            visit(record)
            offset += 8 + length
        }
        return offset
    }

    // MARK: DurableLog (event loop)

    func appendMessage(_ message: inout Xunfang_Bus_V1_Deliver) -> UInt64 {
        message.sequence = nextSequence
        nextSequence += 1
        var record = Xunfang_Bus_V1_LogRecord()
        record.message = message
        append(record)
        pendingThrough = message.sequence
        return message.sequence
    }

    func appendAck(consumer: String, sequences: [UInt64]) {
        var record = Xunfang_Bus_V1_LogRecord()
        record.ack.consumer = consumer
        record.ack.sequences = sequences
        append(record)
    }

    func appendConsumer(name: String, pattern: String) {
        var record = Xunfang_Bus_V1_LogRecord()
        record.consumer.name = name
        record.consumer.pattern = pattern
        append(record)
    }

    private func append(_ record: Xunfang_Bus_V1_LogRecord) {
        let body: [UInt8] = (try? record.serializedBytes()) ?? []
        pending.writeInteger(UInt32(body.count), endianness: .big)
        pending.writeInteger(CRC32C.checksum(body), endianness: .big)
        pending.writeBytes(body)
    }

    func requestSync() {
        guard !syncInFlight, pending.readableBytes > 0 else { return }
        syncInFlight = true
        let batch = pending
        let through = pendingThrough
        pending = ByteBuffer()
        let writer = self.writer
        pool.submit { [eventLoop] _ in
            let result = Result { try writer.writeAndSync(batch) }
            eventLoop.execute { [weak self] in self?.syncFinished(result, through: through) }
        }
    }

    private func syncFinished(_ result: Result<Void, any Error>, through: UInt64) {
        syncInFlight = false
        switch result {
        case .success:
            broker?.logSynced(through: through)
        case .failure(let error):
            // Publishers stay unacknowledged; they retry. Never acknowledge what is not on disk.
            logger.error("durable log write failed", metadata: ["xunfang.error": "\(error)"])
        }
        if pending.readableBytes > 0 { requestSync() }
    }

    func recover() -> RecoveredLog {
        defer { recovered = RecoveredLog() }
        return recovered
    }

    func close() {
        writer.close()
    }
}

/// Owns the open segment file; used from one pool thread at a time.
final class SegmentWriter: @unchecked Sendable {
    private let directory: String
    private let segmentBytes: Int
    private var number: Int
    private var fd: Int32
    private var size: Int

    init(directory: String, number: Int, segmentBytes: Int) throws {
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.number = number
        (fd, size) = try Self.open(FileDurableLog.path(directory, number))
    }

    private static func open(_ path: String) throws -> (Int32, Int) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileDurableLog.Failure(description: "cannot open \(path): errno \(errno)") }
        let size = Int(lseek(fd, 0, SEEK_END))
        return (fd, size)
    }

    func writeAndSync(_ batch: ByteBuffer) throws {
        if size >= segmentBytes {
            _ = fdatasync(fd)
            Glibc.close(fd)
            number += 1
            (fd, size) = try Self.open(FileDurableLog.path(directory, number))
            // The new file's directory entry must be durable too.
            let dirFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY)
            if dirFD >= 0 { _ = fsync(dirFD); Glibc.close(dirFD) }
        }
        try batch.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileDurableLog.Failure(description: "write to segment \(number) failed: errno \(errno)")
                }
                offset += written
            }
        }
        size += batch.readableBytes
        guard fdatasync(fd) == 0 else { throw FileDurableLog.Failure(description: "fdatasync failed: errno \(errno)") }
    }

    func close() {
        Glibc.close(fd)
    }
}
