import Foundation
import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import SwiftProtobuf
import XunfangBus
import XunfangProto
import XunfangWire
#if canImport(Glibc)
import Glibc
#endif

/// The durable log on disk: numbered segment files of checksummed records.
///
/// - Appends are encoded on the broker's event loop, and each record is placed in a
///   segment right away (rotation is decided here, so every message's location is known).
///   One sync at a time runs on a thread pool (write + fdatasync); everything appended
///   meanwhile rides on the next one, so many publishers share each fdatasync.
/// - Every new segment starts with a snapshot of the durable consumers, so older segments
///   can be deleted once every message in them has been forgotten (acknowledged by all).
/// - Recovery reads every segment in order and stops at the first record whose length or
///   checksum is wrong (a torn write from a crash): the tail is cut off there.
/// - Payloads are read back with pread when the broker's in-memory cache no longer has them.
final class FileDurableLog: DurableLog {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    struct Location {
        let segment: Int
        let offset: Int
        let length: Int
    }

    /// Bytes appended to one segment since the last sync.
    struct Chunk {
        let segment: Int
        var bytes: ByteBuffer
    }

    private let directory: String
    private let segmentBytes: Int
    private let eventLoop: any EventLoop
    private let pool: NIOThreadPool
    private let logger: Logger
    /// Set after init; the log reports syncs to it on the event loop.
    weak var broker: Broker?

    private var nextSequence: UInt64 = 1
    private var segment: Int
    private var segmentSize: Int
    private var pending: [Chunk] = []
    private var pendingThrough: UInt64 = 0
    private var syncInFlight = false
    private var writer: SegmentWriter
    private var recovered = RecoveredLog()
    private var consumers: [String: String] = [:]
    private var locations: [UInt64: Location] = [:]
    /// Messages not yet forgotten, per segment.
    private var liveMessages: [Int: Int] = [:]
    private var readers: [Int: Int32] = [:]
    private var closePromise: EventLoopPromise<Void>?
    /// Time of each write + fdatasync batch (the floor under every durable ack).
    private let syncTimer: CoreMetrics.Timer?

    init(directory: String, segmentBytes: Int, eventLoop: any EventLoop, pool: NIOThreadPool, logger: Logger,
         syncTimer: CoreMetrics.Timer? = nil) throws {
        self.syncTimer = syncTimer
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.eventLoop = eventLoop
        self.pool = pool
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let segments = try Self.segmentNumbers(in: directory)
        var state = RecoveredLog()
        var maxSequence: UInt64 = 0
        var locations: [UInt64: Location] = [:]
        var live: [Int: Int] = [:]
        for (index, number) in segments.enumerated() {
            let path = Self.path(directory, number)
            let validLength = try Self.replay(path: path) { record, offset, length in
                switch record.kind {
                case .message(let message):
                    state.messages.append(RecoveredLog.Entry(sequence: message.sequence, topic: message.topic))
                    locations[message.sequence] = Location(segment: number, offset: offset, length: length)
                    live[number, default: 0] += 1
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
                guard index == segments.count - 1 else {
                    // A torn record before the last segment means what follows cannot be trusted.
                    throw Failure(description: "durable log segment \(path) is corrupt before the last segment; refusing to start")
                }
                logger.warning("durable log: cut a torn tail", metadata: ["xunfang.segment": "\(path)", "xunfang.bytes": "\(size - validLength)"])
                guard truncate(path, off_t(validLength)) == 0 else { throw Failure(description: "cannot truncate \(path)") }
            }
        }
        self.recovered = state
        self.consumers = state.consumers
        self.locations = locations
        self.liveMessages = live
        self.nextSequence = maxSequence + 1
        self.segment = segments.last ?? 1
        self.writer = try SegmentWriter(directory: directory)
        self.segmentSize = (try? FileManager.default.attributesOfItem(atPath: Self.path(directory, segment))[.size] as? Int) ?? 0
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

    /// Calls `visit` for every intact record (with its offset and size in the file);
    /// returns the byte length of the intact prefix.
    static func replay(path: String, _ visit: (Xunfang_Bus_V1_LogRecord, Int, Int) -> Void) throws -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "cannot read \(path)") }
        var offset = 0
        let bytes = [UInt8](data)
        while offset + 8 <= bytes.count {
            guard let record = decodeRecord(bytes, at: offset) else { break }
            visit(record.0, offset, record.1)
            offset += record.1
        }
        return offset
    }

    /// The record at `offset` and its size including the 8-byte header, if intact.
    static func decodeRecord(_ bytes: [UInt8], at offset: Int) -> (Xunfang_Bus_V1_LogRecord, Int)? {
        guard offset + 8 <= bytes.count else { return nil }
        let length = Int(UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }))
        let crc = UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) })
        guard length <= 64 * 1024 * 1024, offset + 8 + length <= bytes.count else { return nil }
        let body = bytes[(offset + 8)..<(offset + 8 + length)]
        guard CRC32C.checksum(body) == crc, let record = try? Xunfang_Bus_V1_LogRecord(serializedBytes: Array(body)) else { return nil }
        return (record, 8 + length)
    }

    // MARK: DurableLog (event loop)

    func appendMessage(_ message: inout Xunfang_Bus_V1_Deliver) -> UInt64 {
        message.sequence = nextSequence
        nextSequence += 1
        var record = Xunfang_Bus_V1_LogRecord()
        record.message = message
        let location = append(record)
        locations[message.sequence] = location
        liveMessages[location.segment, default: 0] += 1
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
        consumers[name] = pattern
        var record = Xunfang_Bus_V1_LogRecord()
        record.consumer.name = name
        record.consumer.pattern = pattern
        append(record)
    }

    @discardableResult
    private func append(_ record: Xunfang_Bus_V1_LogRecord) -> Location {
        if segmentSize >= segmentBytes { rotate() }
        let body: [UInt8] = (try? record.serializedBytes()) ?? []
        let location = Location(segment: segment, offset: segmentSize, length: 8 + body.count)
        if pending.last?.segment != segment { pending.append(Chunk(segment: segment, bytes: ByteBuffer())) }
        pending[pending.count - 1].bytes.writeInteger(UInt32(body.count), endianness: .big)
        pending[pending.count - 1].bytes.writeInteger(CRC32C.checksum(body), endianness: .big)
        pending[pending.count - 1].bytes.writeBytes(body)
        segmentSize += location.length
        return location
    }

    /// Starts the next segment with a snapshot of the consumers, then lets old segments go.
    private func rotate() {
        segment += 1
        segmentSize = 0
        for (name, pattern) in consumers.sorted(by: { $0.key < $1.key }) {
            var record = Xunfang_Bus_V1_LogRecord()
            record.consumer.name = name
            record.consumer.pattern = pattern
            append(record)
        }
        deleteForgottenSegments()
    }

    func forget(_ sequences: [UInt64]) {
        for sequence in sequences {
            guard let location = locations.removeValue(forKey: sequence) else { continue }
            liveMessages[location.segment, default: 1] -= 1
        }
        deleteForgottenSegments()
    }

    /// Segments before the current one whose messages are all forgotten hold nothing the
    /// next start needs (consumers are in every later segment's snapshot).
    private func deleteForgottenSegments() {
        guard let oldest = (try? Self.segmentNumbers(in: directory))?.first, oldest < segment else { return }
        var doomed: [Int] = []
        for number in oldest..<segment {
            // A prefix only, and never a segment with records still waiting to be written.
            guard (liveMessages[number] ?? 0) <= 0, !pending.contains(where: { $0.segment == number }) else { break }
            doomed.append(number)
        }
        guard !doomed.isEmpty else { return }
        for number in doomed {
            liveMessages[number] = nil
            if let fd = readers.removeValue(forKey: number) { Glibc.close(fd) }
        }
        // Deleted on the writer's thread, after anything queued for them was written.
        let directory = self.directory
        pool.submit { _ in
            for number in doomed { unlink(Self.path(directory, number)) }
        }
        logger.debug("durable log: deleted segments", metadata: ["xunfang.segments": "\(doomed)"])
    }

    func readMessage(_ sequence: UInt64) -> Xunfang_Bus_V1_Deliver? {
        guard let location = locations[sequence] else { return nil }
        let fd: Int32
        if let open = readers[location.segment] {
            fd = open
        } else {
            fd = Glibc.open(Self.path(directory, location.segment), O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            readers[location.segment] = fd
        }
        var bytes = [UInt8](repeating: 0, count: location.length)
        let read = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, location.length, off_t(location.offset)) }
        guard read == location.length, case .message(let message)? = Self.decodeRecord(bytes, at: 0)?.0.kind else { return nil }
        return message
    }

    func requestSync() {
        guard !syncInFlight, closePromise == nil, !pending.isEmpty else { return }
        syncInFlight = true
        let batch = pending
        let through = pendingThrough
        pending = []
        let writer = self.writer
        let timer = syncTimer
        pool.submit { [eventLoop] _ in
            let started = DispatchTime.now().uptimeNanoseconds
            let result = Result { try writer.writeAndSync(batch) }
            timer?.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
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
        if closePromise != nil {
            finishClose()
        } else if !pending.isEmpty {
            requestSync()
        }
    }

    func recover() -> RecoveredLog {
        defer { recovered = RecoveredLog() }
        return recovered
    }

    /// Writes and syncs what is still pending (acks included), then closes, after any sync
    /// in flight. On the event loop; the bus is shutting down, so blocking briefly is fine.
    func close() -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        closePromise = promise
        if !syncInFlight { finishClose() }
        return promise.futureResult
    }

    private func finishClose() {
        if !pending.isEmpty {
            let batch = pending
            pending = []
            do {
                try writer.writeAndSync(batch)
                broker?.logSynced(through: pendingThrough)
            } catch {
                logger.error("durable log: last write at shutdown failed", metadata: ["xunfang.error": "\(error)"])
            }
        }
        for fd in readers.values { Glibc.close(fd) }
        readers.removeAll()
        writer.close()
        closePromise?.succeed()
        closePromise = nil
    }
}

/// Appends chunks to their segment files; used from one pool thread at a time.
final class SegmentWriter: @unchecked Sendable {
    private let directory: String
    private var number = 0
    private var fd: Int32 = -1

    init(directory: String) throws {
        self.directory = directory
    }

    func writeAndSync(_ chunks: [FileDurableLog.Chunk]) throws {
        for chunk in chunks {
            if chunk.segment != number { try open(chunk.segment) }
            try chunk.bytes.withUnsafeReadableBytes { raw in
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
            guard fdatasync(fd) == 0 else { throw FileDurableLog.Failure(description: "fdatasync failed: errno \(errno)") }
        }
    }

    private func open(_ segment: Int) throws {
        if fd >= 0 {
            _ = fdatasync(fd)
            Glibc.close(fd)
        }
        let path = FileDurableLog.path(directory, segment)
        let existed = access(path, F_OK) == 0
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileDurableLog.Failure(description: "cannot open \(path): errno \(errno)") }
        number = segment
        if !existed {
            // The new file's directory entry must be durable too.
            let dirFD = Glibc.open(directory, O_RDONLY | O_DIRECTORY)
            if dirFD >= 0 {
                _ = fsync(dirFD)
                Glibc.close(dirFD)
            }
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
