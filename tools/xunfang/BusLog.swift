import ArgumentParser
import Foundation
import XunfangBusServer

/// `xunfang bus log check|repair`: what an operator runs when the bus will not start on
/// a damaged durable log (see docs/operations.md).
struct BusLogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Check or repair the bus's durable log (stop the bus first).",
        subcommands: [Check.self, Repair.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read every segment; report damage and what it holds. Changes nothing.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let reports = try LogSalvage.check(directory: try logDirectory(options))
            print(describe(reports, repaired: false))
            if reports.contains(where: { !$0.isIntact }) { throw ExitCode(1) }
        }
    }

    struct Repair: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep every intact record; move damaged bytes to <log>/quarantine/ and print what was lost.")
        @OptionGroup var options: ConfigOptions

        func run() throws {
            let directory = try logDirectory(options)
            guard !busIsRunning(options) else {
                throw ValidationError("the bus is running on this data directory; stop it before repairing its log")
            }
            print(describe(try LogSalvage.repair(directory: directory), repaired: true))
        }
    }
}

private func logDirectory(_ options: ConfigOptions) throws -> String {
    let directory = "\(try options.load().dataDirectory)/bus-log"
    guard FileManager.default.fileExists(atPath: directory) else { throw ValidationError("no durable log at \(directory)") }
    return directory
}

/// A bus answers on its socket; a repair under it would race its writes.
private func busIsRunning(_ options: ConfigOptions) -> Bool {
    guard let config = try? options.load() else { return false }
    let path = config.bus.socketPath.hasPrefix("/") ? config.bus.socketPath : "\(config.dataDirectory)/\(config.bus.socketPath)"
    return BusServer.isListening(on: path)
}

private func describe(_ reports: [LogSalvage.SegmentReport], repaired: Bool) -> String {
    var lines: [String] = []
    for report in reports {
        let messages = report.messages.map { "messages \($0.lowerBound)...\($0.upperBound)" } ?? "no messages"
        lines.append("\(report.path): \(report.bytes) bytes, \(report.records) intact records, \(messages)"
                     + (report.isIntact ? ", intact" : ""))
        for damage in report.damage {
            lines.append("  \(damage.kind.uppercased()) at byte \(damage.offset), \(damage.length) bytes"
                         + (damage.quarantinedTo.map { " -> \($0)" } ?? ""))
            for (sequence, topic) in damage.recognisable {
                lines.append("    \(repaired ? "lost" : "hit"): sequence \(sequence), topic \(topic) (checksum wrong; may be garbled)")
            }
            if let missing = damage.missingSequences {
                lines.append("    sequences \(missing.lowerBound)...\(missing.upperBound) are missing between the intact messages around it")
            }
        }
    }
    let damaged = reports.filter { !$0.isIntact }.count
    lines.append(damaged == 0 ? "the log is intact (\(reports.count) segments)"
                 : repaired ? "repaired \(damaged) of \(reports.count) segments; the bus can start"
                 : "\(damaged) of \(reports.count) segments are damaged; stop the bus and run `xunfang bus log repair`")
    return lines.joined(separator: "\n")
}
