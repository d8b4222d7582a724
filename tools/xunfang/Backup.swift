import ArgumentParser
import Crypto
import Foundation
import GRDB
import XunfangBusServer
import XunfangConfig
import XunfangPluginKit

/// What a backup holds, written last: a directory without it is not a backup.
struct BackupManifest: Codable {
    struct File: Codable {
        var path: String
        var bytes: Int
        var sha256: String
    }

    var format = 1
    var county: String
    var created: String
    var createdMilliseconds: Int64
    /// The last message sequence in the copied durable log (0: no messages).
    var logSequence: UInt64
    var files: [File]
    /// Files on the server that the backup leaves out on purpose (sealing keys with --without-keys).
    var leftOut: [String]

    static let name = "MANIFEST.json"
}

/// `xunfang backup DIR`: a consistent copy of every plugin store (SQLite's online backup,
/// so the stack keeps running), the durable log up to a sequence, and the credentials.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Copy every store, the durable log and the credentials into DIR while the stack runs.",
        discussion: """
        Plugin stores are copied with SQLite's online backup; the durable log is copied up to the
        last whole record (its sequence is printed and kept in DIR/MANIFEST.json, with a SHA-256 of
        every file). The sealing keys of personal data are included unless --without-keys: a backup
        with keys is as secret as the server. Restore with `xunfang restore DIR`.
        """)
    @OptionGroup var options: ConfigOptions
    @Argument(help: "A new or empty directory.") var destination: String
    @Flag(help: "Leave the personal-data sealing keys (*.key) out; keep them apart yourself.") var withoutKeys = false

    func run() throws {
        let config = try options.load()
        let source = config.dataDirectory
        guard FileManager.default.fileExists(atPath: source) else { throw ValidationError("no data directory at \(source)") }
        let destination = URL(fileURLWithPath: destination).standardizedFileURL.path
        guard (try? FileManager.default.contentsOfDirectory(atPath: destination))?.isEmpty ?? true else {
            throw ValidationError("\(destination) is not empty; back up into a new directory")
        }
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var leftOut: [String] = []
        for relative in try dataFiles(in: source) {
            let target = "\(destination)/\(relative)"
            try createParent(of: target)
            if relative.hasSuffix(".key") && withoutKeys {
                leftOut.append(relative)
            } else if relative.hasSuffix(".sqlite") {
                try onlineBackup("\(source)/\(relative)", to: target)
            } else if let data = FileManager.default.contents(atPath: "\(source)/\(relative)") {
                try write(data, to: target)
            } else if FileManager.default.fileExists(atPath: "\(source)/\(relative)") {
                throw ValidationError("cannot read \(source)/\(relative)")
            }
            // Else the running stack removed it after it was listed (a file renamed into place): skipped.
        }
        let sequence = try copyLog(from: "\(source)/bus-log", to: "\(destination)/bus-log")
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let manifest = BackupManifest(county: config.county, created: ChinaTime.format(milliseconds: now), createdMilliseconds: now,
                                      logSequence: sequence, files: try checksums(under: destination), leftOut: leftOut)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: "\(destination)/\(BackupManifest.name)"))
        let bytes = manifest.files.reduce(0) { $0 + $1.bytes }
        print("backed up \(config.county): \(manifest.files.count) files, \(bytes / 1024) KiB, durable log to sequence \(sequence) -> \(destination)")
        if withoutKeys {
            print("left out: \(leftOut.joined(separator: ", ")); a restore needs these key files to read sealed personal data")
        } else if manifest.files.contains(where: { $0.path.hasSuffix(".key") }) {
            print("note: the backup holds the personal-data sealing keys; keep it as secret as the server (or use --without-keys)")
        }
    }

    /// Regular files of the data directory, relative, without the durable log (copied on
    /// its own), SQLite's side files (the online backup reads through them), files being
    /// written or replaced (`.new`, `.part`) and sockets. A file the running stack removes
    /// while it is listed or copied is skipped.
    func dataFiles(in directory: String) throws -> [String] {
        let names = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        let sideFiles = ["-wal", "-shm", "-journal", ".new", ".part"]
        return names.filter { name in
            guard !name.hasPrefix("bus-log"), !sideFiles.contains(where: name.hasSuffix) else { return false }
            return (try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)"))?[.type] as? FileAttributeType == .typeRegular
        }.sorted()
    }

    func onlineBackup(_ path: String, to target: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let live = try DatabaseQueue(path: path, configuration: configuration)
        let copy = try DatabaseQueue(path: target)
        try live.backup(to: copy)
        try copy.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") }
        try copy.close()
        try live.close()
    }

    /// Copies the segments oldest first. The newest may grow while it is read: the copy
    /// keeps its whole records and cuts the torn tail, as recovery after a crash would.
    func copyLog(from source: String, to target: String) throws -> UInt64 {
        let segments = ((try? FileManager.default.contentsOfDirectory(atPath: source)) ?? []).filter { $0.hasSuffix(".log") }.sorted()
        guard !segments.isEmpty else { return 0 }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for segment in segments {
            // A segment retention deleted meanwhile held only messages older than every kept one.
            guard let data = FileManager.default.contents(atPath: "\(source)/\(segment)") else { continue }
            try write(data, to: "\(target)/\(segment)")
        }
        let reports = try LogSalvage.check(directory: target)
        if reports.contains(where: { !$0.isIntact }) {
            let repaired = try LogSalvage.repair(directory: target)
            let cut = repaired.flatMap(\.damage).reduce(0) { $0 + $1.length }
            try? FileManager.default.removeItem(atPath: "\(target)/quarantine")
            print("durable log: \(cut) bytes of records still being written were left out of the copy")
            return repaired.compactMap(\.messages?.upperBound).max() ?? 0
        }
        return reports.compactMap(\.messages?.upperBound).max() ?? 0
    }
}

/// `xunfang restore DIR`: puts a backup back as the data directory, after checking every file.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Restore a backup made by `xunfang backup` as the data directory (stop the stack first).",
        discussion: """
        Every file is checked against the backup's SHA-256 before anything is written. An existing
        data directory is refused unless --replace, which moves it aside to <data>.before-restore-<time>
        (nothing is deleted). Sealing keys left out of the backup are taken from the replaced directory.
        """)
    @OptionGroup var options: ConfigOptions
    @Argument(help: "A directory written by `xunfang backup`.") var source: String
    @Flag(help: "Move an existing data directory aside instead of refusing.") var replace = false

    func run() throws {
        let config = try options.load()
        let data = config.dataDirectory
        let manifest = try verifiedManifest()
        let socket = config.bus.socketPath.hasPrefix("/") ? config.bus.socketPath : "\(data)/\(config.bus.socketPath)"
        guard !BusServer.isListening(on: socket) else { throw ValidationError("the stack is running on \(data); stop it before restoring") }
        let staging = "\(data).restoring"
        try? FileManager.default.removeItem(atPath: staging)
        for file in manifest.files {
            let target = "\(staging)/\(file.path)"
            try createParent(of: target)
            try copy("\(source)/\(file.path)", to: target)
        }
        var movedAside: String?
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: data), !existing.isEmpty {
            guard replace else {
                try? FileManager.default.removeItem(atPath: staging)
                throw ValidationError("\(data) holds data; run again with --replace to move it aside (nothing is deleted)")
            }
            let aside = unusedPath("\(data).before-restore-\(Int64(Date().timeIntervalSince1970))")
            try FileManager.default.moveItem(atPath: data, toPath: aside)
            movedAside = aside
        } else {
            try? FileManager.default.removeItem(atPath: data)
        }
        for key in manifest.leftOut {
            guard let aside = movedAside, FileManager.default.fileExists(atPath: "\(aside)/\(key)") else {
                print("warning: \(key) was left out of the backup and is not on this server; sealed personal data will not open without it")
                continue
            }
            try createParent(of: "\(staging)/\(key)")
            try copy("\(aside)/\(key)", to: "\(staging)/\(key)")
        }
        try FileManager.default.moveItem(atPath: staging, toPath: data)
        print("restored \(manifest.county) as of \(manifest.created): \(manifest.files.count) files, durable log to sequence \(manifest.logSequence) -> \(data)"
              + (movedAside.map { "; the previous data directory is kept at \($0)" } ?? ""))
    }

    /// The manifest, once every file it names is there with its checksum.
    func verifiedManifest() throws -> BackupManifest {
        guard let data = FileManager.default.contents(atPath: "\(source)/\(BackupManifest.name)"),
              let manifest = try? JSONDecoder().decode(BackupManifest.self, from: data) else {
            throw ValidationError("\(source) has no readable \(BackupManifest.name): not a complete backup")
        }
        for path in manifest.files.map(\.path) + manifest.leftOut {
            guard !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw ValidationError("\(BackupManifest.name) names \(path), outside the backup")
            }
        }
        for file in manifest.files {
            guard let bytes = FileManager.default.contents(atPath: "\(source)/\(file.path)") else {
                throw ValidationError("\(file.path) is missing from the backup; nothing was restored")
            }
            guard bytes.count == file.bytes, sha256(bytes) == file.sha256 else {
                throw ValidationError("\(file.path) does not match its checksum (damaged backup); nothing was restored")
            }
        }
        return manifest
    }
}

/// `path`, or `path-2`, `path-3`...: two restores in one second keep both directories they replaced.
private func unusedPath(_ path: String) -> String {
    var candidate = path
    var number = 1
    while FileManager.default.fileExists(atPath: candidate) {
        number += 1
        candidate = "\(path)-\(number)"
    }
    return candidate
}

private func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }

private func checksums(under directory: String) throws -> [BackupManifest.File] {
    let names = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
    return try names.sorted().compactMap { name in
        let path = "\(directory)/\(name)"
        guard try FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType == .typeRegular,
              let data = FileManager.default.contents(atPath: path) else { return nil }
        return BackupManifest.File(path: name, bytes: data.count, sha256: sha256(data))
    }
}

private func createParent(of path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                            attributes: [.posixPermissions: 0o700])
}

private func copy(_ source: String, to target: String) throws {
    guard let data = FileManager.default.contents(atPath: source) else { throw ValidationError("cannot read \(source)") }
    try write(data, to: target)
}

/// Written durably and private to the owner, like everything the stack writes.
private func write(_ data: Data, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]),
          let handle = FileHandle(forWritingAtPath: path) else {
        throw ValidationError("cannot write \(path)")
    }
    try handle.synchronize()
    try handle.close()
}
