import Foundation
import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import SwiftProtobuf
import XunfangBus
import XunfangProto
import XunfangCodec
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
/// - Every new segment starts with a mark of the next sequence and a snapshot of the
///   durable consumers, so older segments can be deleted once every message in them has
///   been forgotten (acknowledged by all) without a sequence ever being handed out twice.
/// - A failed write or fdatasync is undone on disk (the segment is cut back to where the
///   batch began), and every message appended since the last good sync is refused to its
///   publisher; acks and consumers are appended again. Nothing later can acknowledge it.
/// - Recovery keeps every intact record. Only the last segment is repaired at start (a
///   torn tail is cut, damage in the middle is quarantined); damage in an earlier segment
///   stops the bus and names `xunfang bus log repair`.
/// - Payloads are read back with pread when the broker's in-memory cache no longer has them.
final class FileDurableLog: DurableLog {
    typealias Failure = LogSalvage.Failure

    struct Location {
        let segment: Int
        let offset: Int
        let length: Int
    }

    /// Bytes appended to one segment since the last sync, from `start` in that segment.
    struct Chunk {
        let segment: Int
        let start: Int
        var bytes: ByteBuffer
    }

    /// Records appended since the last sync began, with what must be appended again if
    /// their write fails (acks and consumers; messages are refused instead).
    struct Batch {
        var chunks: [Chunk] = []
        var replayable: [Xunfang_Bus_V1_LogRecord] = []
        var isEmpty: Bool { chunks.isEmpty }
    }

    /// What recovery found and set aside; reported in stats and metrics.
    struct RecoveryDamage {
        var corruptRanges = 0
        var quarantinedBytes = 0
    }

    private let directory: String
    private let segmentBytes: Int
    private let eventLoop: any EventLoop
    private let pool: NIOThreadPool
    private let logger: Logger
    private let files: any SegmentFiles
    /// Set after init; the log reports syncs to it on the event loop.
    weak var broker: Broker?

    private var nextSequence: UInt64 = 1
    /// The first sequence not yet on disk: everything from here on is refused if a write fails.
    private var unsyncedFrom: UInt64 = 1
    private var segment: Int
    private var segmentSize: Int
    private var pending = Batch()
    private var inFlight: Batch?
    /// A failed write could not be undone: nothing more is written until a restart.
    private var broken: SegmentFileError?
    private var writer: SegmentWriter
    private var recovered = RecoveredLog()
    private(set) var damage = RecoveryDamage()
    private var consumers: [String: String] = [:]
    private var locations: [UInt64: Location] = [:]
    /// Messages not yet forgotten, per segment.
    private var liveMessages: [Int: Int] = [:]
    private var readers: [Int: Int32] = [:]
    private var closePromise: EventLoopPromise<Void>?
    private var retryScheduled = false
    /// A forgotten segment was still being written when it could have been deleted.
    private var deletionDeferred = false
    /// Time of each write + fdatasync batch (the floor under every durable ack).
    private let syncTimer: CoreMetrics.Timer?

    init(directory: String, segmentBytes: Int, eventLoop: any EventLoop, pool: NIOThreadPool, logger: Logger,
         syncTimer: CoreMetrics.Timer? = nil, files: any SegmentFiles = SystemSegmentFiles()) throws {
        self.syncTimer = syncTimer
        self.directory = directory
        self.segmentBytes = segmentBytes
        self.eventLoop = eventLoop
        self.pool = pool
        self.logger = logger
        self.files = files
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let segments = try LogSalvage.segmentNumbers(in: directory)
        var state = RecoveredLog()
        var highWater: UInt64 = 0
        var locations: [UInt64: Location] = [:]
        var live: [Int: Int] = [:]
        for (index, number) in segments.enumerated() {
            let scan = try Self.readSegment(number, directory: directory, isLast: index == segments.count - 1,
                                            files: files, logger: logger, damage: &damage)
            for scanned in scan.records {
                switch scanned.record.kind {
                case .message(let message):
                    state.messages.append(RecoveredLog.Entry(sequence: message.sequence, topic: message.topic,
                                                             publishedAtUnixMs: message.publishedAtUnixMs, bytes: scanned.length))
                    locations[message.sequence] = Location(segment: number, offset: scanned.offset, length: scanned.length)
                    live[number, default: 0] += 1
                    highWater = max(highWater, message.sequence)
                case .ack(let ack):
                    state.acks[ack.consumer, default: []].formUnion(ack.sequences)
                    highWater = max(highWater, ack.sequences.max() ?? 0)
                case .consumer(let consumer) where consumer.pattern.isEmpty:
                    state.consumers[consumer.name] = nil  // deleted
                    state.acks[consumer.name] = nil
                case .consumer(let consumer):
                    state.consumers[consumer.name] = consumer.pattern
                case .mark(let mark):
                    highWater = max(highWater, mark.nextSequence &- 1)
                case nil:
                    break
                }
            }
        }
        // Acks of messages already deleted name nothing that exists; keeping them would only grow memory.
        for (name, acked) in state.acks { state.acks[name] = acked.filter { locations[$0] != nil } }
        self.recovered = state
        self.consumers = state.consumers
        self.locations = locations
        self.liveMessages = live
        self.nextSequence = highWater + 1
        self.unsyncedFrom = highWater + 1
        self.segment = segments.last ?? 1
        self.writer = SegmentWriter(directory: directory, files: files)
        self.segmentSize = (try? FileManager.default.attributesOfItem(atPath: Self.path(directory, segment))[.size] as? Int) ?? 0
        if segments.isEmpty { appendMark() }
    }

    static func path(_ directory: String, _ number: Int) -> String {
        LogSalvage.segmentPath(directory, number)
    }

    /// One segment's records. The last one is repaired in place (it is where a crash
    /// leaves a torn write); damage anywhere else needs an operator.
    private static func readSegment(_ number: Int, directory: String, isLast: Bool, files: any SegmentFiles, logger: Logger,
                                    damage: inout RecoveryDamage) throws -> SegmentScan {
        let path = Self.path(directory, number)
        let bytes = try LogSalvage.read(path)
        let scan = SegmentScan(bytes)
        guard !scan.isIntact else { return scan }
        guard isLast else {
            let ranges = scan.damage.map { "\($0.kind.rawValue) at byte \($0.range.lowerBound) (\($0.range.count) bytes)" }
            throw Failure(description: """
                durable log segment \(path) is damaged: \(ranges.joined(separator: ", ")). The bus will not start on a \
                damaged log. Run `xunfang bus log check` to see what is affected, then `xunfang bus log repair` to keep \
                every intact record and move the damaged bytes to \(directory)/quarantine/.
                """)
        }
        let (report, salvaged) = try LogSalvage.salvage(number: number, path: path, bytes: bytes, scan: scan, directory: directory, files: files)
        for range in report.damage {
            let metadata: Logger.Metadata = [
                "xunfang.segment": "\(path)", "xunfang.offset": "\(range.offset)", "xunfang.bytes": "\(range.length)",
                "xunfang.quarantine": "\(range.quarantinedTo ?? "-")",
                "xunfang.messages": "\(range.recognisable.map { "\($0.sequence):\($0.topic)" })"]
            if range.kind == SegmentScan.Damage.Kind.tornTail.rawValue {
                logger.warning("durable log: cut a torn tail (a write the crash interrupted, never acknowledged)", metadata: metadata)
            } else {
                damage.corruptRanges += 1
                logger.error("durable log: CORRUPT bytes in the last segment; intact records after them are kept", metadata: metadata)
            }
            damage.quarantinedBytes += range.length
        }
        return salvaged
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
        return message.sequence
    }

    func appendAck(consumer: String, sequences: [UInt64]) {
        var record = Xunfang_Bus_V1_LogRecord()
        record.ack.consumer = consumer
        record.ack.sequences = sequences
        appendReplayable(record)
    }

    func appendConsumer(name: String, pattern: String) {
        consumers[name] = pattern.isEmpty ? nil : pattern
        var record = Xunfang_Bus_V1_LogRecord()
        record.consumer.name = name
        record.consumer.pattern = pattern
        appendReplayable(record)
    }

    private func appendReplayable(_ record: Xunfang_Bus_V1_LogRecord) {
        append(record)
        pending.replayable.append(record)
    }

    @discardableResult
    private func append(_ record: Xunfang_Bus_V1_LogRecord) -> Location {
        if segmentSize >= segmentBytes { rotate() }
        let body: [UInt8] = (try? record.serializedBytes()) ?? []
        let location = Location(segment: segment, offset: segmentSize, length: 8 + body.count)
        if pending.chunks.last?.segment != segment {
            pending.chunks.append(Chunk(segment: segment, start: segmentSize, bytes: ByteBuffer()))
        }
        let last = pending.chunks.count - 1
        pending.chunks[last].bytes.writeInteger(UInt32(body.count), endianness: .big)
        pending.chunks[last].bytes.writeInteger(CRC32C.checksum(body), endianness: .big)
        pending.chunks[last].bytes.writeBytes(body)
        segmentSize += location.length
        return location
    }

    /// Starts the next segment with the numbering mark and a snapshot of the consumers,
    /// then lets old segments go.
    private func rotate() {
        segment += 1
        segmentSize = 0
        appendMark()
        for (name, pattern) in consumers.sorted(by: { $0.key < $1.key }) {
            var record = Xunfang_Bus_V1_LogRecord()
            record.consumer.name = name
            record.consumer.pattern = pattern
            append(record)
        }
        deleteForgottenSegments()
    }

    private func appendMark() {
        var record = Xunfang_Bus_V1_LogRecord()
        record.mark.nextSequence = nextSequence
        append(record)
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
        guard let oldest = (try? LogSalvage.segmentNumbers(in: directory))?.first, oldest < segment else { return }
        var doomed: [Int] = []
        for number in oldest..<segment {
            // A prefix only, and never a segment with records still waiting to be written.
            guard (liveMessages[number] ?? 0) <= 0 else { break }
            guard !pending.chunks.contains(where: { $0.segment == number }), inFlight?.chunks.contains(where: { $0.segment == number }) != true else {
                // Not all written yet (and a write may fail and be cut back): try again once
                // synced. Without this a forget that came while the segment's last records
                // were still queued left the segment on disk until the next rotation.
                deletionDeferred = true
                break
            }
            doomed.append(number)
        }
        guard !doomed.isEmpty else { return }
        for number in doomed {
            liveMessages[number] = nil
            if let fd = readers.removeValue(forKey: number) { Glibc.close(fd) }
        }
        // Deleted on the writer's thread, after anything queued for them was written.
        let (directory, files) = (self.directory, self.files)
        pool.submit { _ in
            for number in doomed { try? files.remove(Self.path(directory, number)) }
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
        guard read == location.length, case .message(let message)? = SegmentScan.decode(bytes, at: 0)?.0.kind else { return nil }
        return message
    }

    func requestSync() {
        guard inFlight == nil, closePromise == nil, !pending.isEmpty else { return }
        if let broken {
            refuseUnsynced(SegmentFileError("write", "\(directory) (unusable since a failed write could not be undone; restart the bus)",
                                            code: broken.code))
            return
        }
        let batch = pending
        let through = nextSequence - 1
        pending = Batch()
        inFlight = batch
        let writer = self.writer
        let timer = syncTimer
        pool.submit { [eventLoop] _ in
            let started = DispatchTime.now().uptimeNanoseconds
            let result = Result { try writer.writeAndSync(batch.chunks) }
            timer?.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            eventLoop.execute { [weak self] in self?.syncFinished(result, through: through) }
        }
    }

    private func syncFinished(_ result: Result<Void, any Error>, through: UInt64) {
        let batch = inFlight
        inFlight = nil
        switch result {
        case .success:
            unsyncedFrom = max(unsyncedFrom, through + 1)
            broker?.logSynced(through: through)
            if deletionDeferred {
                deletionDeferred = false
                deleteForgottenSegments()
            }
        case .failure(let error):
            syncFailed(batch ?? Batch(), error: error)
        }
        if closePromise != nil {
            finishClose()
        } else if !pending.isEmpty && !retryScheduled {
            // After a failure what is pending (acks written again) waits for the scheduled
            // retry: trying at once would spin on a full disk, thousands of writes a second.
            requestSync()
        }
    }

    /// The batch did not reach disk, and what was appended after it was placed behind it:
    /// all of it is refused, the segment is cut back to where the batch began, and acks
    /// and consumers are appended again. No later sync can acknowledge any of it.
    private func syncFailed(_ batch: Batch, error: any Error) {
        let cause = error as? SegmentFileError ?? SegmentFileError("write", directory, code: EIO)
        logger.error("durable log write failed; refusing every message not yet on disk", metadata: [
            "xunfang.error": "\(cause)", "xunfang.sequences": "\(unsyncedFrom)..<\(nextSequence)"])
        let replay = batch.replayable + pending.replayable
        if let start = batch.chunks.first {
            do {
                try writer.rollBack(batch.chunks)
            } catch {
                broken = error as? SegmentFileError ?? cause
                logger.critical("durable log: a failed write could not be undone; no more durable writes until a restart",
                                metadata: ["xunfang.error": "\(error)"])
            }
            segment = start.segment
            segmentSize = start.start
        }
        pending = Batch()
        refuseUnsynced(cause)
        for record in replay {
            if case .consumer(let consumer)? = record.kind, consumers[consumer.name] == nil { continue }
            appendReplayable(record)
        }
        // Acks wait for the next publish to carry them, or for this retry.
        if !pending.isEmpty && !retryScheduled {
            retryScheduled = true
            eventLoop.scheduleTask(in: .milliseconds(200)) { [weak self] in
                self?.retryScheduled = false
                self?.requestSync()
            }
        }
    }

    /// Tells the broker that every message from `unsyncedFrom` on is lost; their sequences are never reused.
    private func refuseUnsynced(_ cause: SegmentFileError) {
        let lost = unsyncedFrom..<nextSequence
        for sequence in lost {
            guard let location = locations.removeValue(forKey: sequence) else { continue }
            liveMessages[location.segment, default: 1] -= 1
        }
        unsyncedFrom = nextSequence
        broker?.logFailed(sequences: lost, code: cause.isOutOfSpace ? .resourceExhausted : .unavailable,
                          message: "the durable log could not write this message: \(cause); publish it again")
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
        if inFlight == nil { finishClose() }
        return promise.futureResult
    }

    private func finishClose() {
        if !pending.isEmpty, broken == nil {
            let batch = pending
            pending = Batch()
            do {
                try writer.writeAndSync(batch.chunks)
                broker?.logSynced(through: nextSequence - 1)
            } catch {
                logger.error("durable log: last write at shutdown failed", metadata: ["xunfang.error": "\(error)"])
                try? writer.rollBack(batch.chunks)
                refuseUnsynced(error as? SegmentFileError ?? SegmentFileError("write", directory, code: EIO))
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
    private let files: any SegmentFiles
    private var number = 0
    private var fd: Int32 = -1

    init(directory: String, files: any SegmentFiles) {
        self.directory = directory
        self.files = files
    }

    func writeAndSync(_ chunks: [FileDurableLog.Chunk]) throws {
        for chunk in chunks {
            if chunk.segment != number { try open(chunk.segment) }
            let path = FileDurableLog.path(directory, number)
            try chunk.bytes.withUnsafeReadableBytes { try files.write(fd, $0, path: path) }
            try files.sync(fd, path: path)
        }
    }

    /// Cuts every segment the chunks touched back to where they began (a segment they
    /// began is removed), newest first, durably.
    func rollBack(_ chunks: [FileDurableLog.Chunk]) throws {
        close()
        for chunk in chunks.reversed() {
            let path = FileDurableLog.path(directory, chunk.segment)
            if chunk.start == 0 {
                try files.remove(path)
                files.syncDirectory(directory)
                continue
            }
            let descriptor = try files.openForAppend(path, create: false)
            defer { files.close(descriptor) }
            try files.truncate(descriptor, to: chunk.start, path: path)
            // Best effort: while syncs fail, the next write's successful fdatasync makes the
            // new size durable before anything after it is acknowledged.
            try? files.sync(descriptor, path: path)
        }
    }

    private func open(_ segment: Int) throws {
        if fd >= 0 {
            try files.sync(fd, path: FileDurableLog.path(directory, number))
            close()
        }
        let path = FileDurableLog.path(directory, segment)
        let existed = access(path, F_OK) == 0
        fd = try files.openForAppend(path, create: true)
        number = segment
        // The new file's directory entry must be durable too.
        if !existed { files.syncDirectory(directory) }
    }

    func close() {
        if fd >= 0 { files.close(fd) }
        fd = -1
        number = 0
    }
}
