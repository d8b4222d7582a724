public import Foundation

/// The rate of a governed simulated clock, shared by every process of a harness run through
/// one small file: the harness writes a new segment (the simulated time it read at a machine
/// time, and the factor from then on) whenever it speeds the clock up or slows it down, and
/// every process reads the newest segment each time it reads the clock. A segment starts
/// where the one before stood, so the clock never jumps, only changes pace.
///
/// 32 bytes: start, origin, factor's bits and a check word, written and read in one
/// `pwrite`/`pread` each; a read that saw half a write fails its check and reads again.
public final class ClockFile: Sendable {
    public struct Segment: Sendable, Equatable {
        /// Simulated Unix ms at `origin`.
        public var start: Int64
        /// Machine Unix ms.
        public var origin: Int64
        public var factor: Double

        public init(start: Int64, origin: Int64, factor: Double) {
            self.start = start
            self.origin = origin
            self.factor = factor
        }

        /// The simulated time at machine time `machine`.
        public func simulated(at machine: Int64) -> Int64 { start + Int64((Double(machine - origin) * factor).rounded()) }
    }

    public let path: String
    private let descriptor: Int32
    static let magic: UInt64 = 0x5846_434C_4F43_4B31   // "XFCLOCK1"
    /// The factors a segment may have, as for a fixed clock.
    public static let factors: ClosedRange<Double> = 1...10_000

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// A new clock file at `path` (0600) with its first segment: the harness's.
    public static func create(at path: String, _ segment: Segment) throws(SettingError) -> ClockFile {
        let descriptor = Foundation.open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SettingError("clock file \(path): \(String(cString: strerror(errno)))") }
        let file = ClockFile(path: path, descriptor: descriptor)
        try file.write(segment)
        return file
    }

    /// The clock file a harness made; refused unless it holds a valid segment.
    public static func open(at path: String) throws(SettingError) -> ClockFile {
        let descriptor = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SettingError("clock file \(path): \(String(cString: strerror(errno)))") }
        let file = ClockFile(path: path, descriptor: descriptor)
        guard file.read() != nil else { throw SettingError("clock file \(path) holds no clock written by xunfang harness") }
        return file
    }

    /// A new segment from now on.
    public func write(_ segment: Segment) throws(SettingError) {
        guard Self.factors.contains(segment.factor), segment.start > 0, segment.origin > 0 else {
            throw SettingError("a clock segment needs a start and origin after 1970 and a factor of 1 to 10,000, not \(segment)")
        }
        let words = Self.words(segment)
        let written = words.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == 32 else { throw SettingError("clock file \(path): \(String(cString: strerror(errno)))") }
    }

    /// The newest segment; nil when the file holds none (never written, or not a clock file).
    public func read() -> Segment? {
        var words = [UInt64](repeating: 0, count: 4)
        for _ in 0..<100 {
            let count = words.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
            guard count == 32 else { return nil }
            let segment = Segment(start: Int64(bitPattern: UInt64(littleEndian: words[0])), origin: Int64(bitPattern: UInt64(littleEndian: words[1])),
                                  factor: Double(bitPattern: UInt64(littleEndian: words[2])))
            if Self.words(segment) == words { return segment }
        }
        return nil
    }

    static func words(_ segment: Segment) -> [UInt64] {
        let values = [UInt64(bitPattern: segment.start), UInt64(bitPattern: segment.origin), segment.factor.bitPattern]
        return (values + [values.reduce(magic) { ($0 ^ $1) &* 0x9E37_79B9_7F4A_7C15 }]).map(\.littleEndian)
    }
}
