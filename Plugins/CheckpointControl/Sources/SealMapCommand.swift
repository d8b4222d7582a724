import Foundation
import XunfangPluginKit
import CheckpointControlContract

/// `xunfang checkpoint seal-map`: the running plugin's 3-minute seal feasibility map of
/// every grid, from the units where they are now, written as JSON, GeoJSON and one HTML
/// page.
public enum SealMapCommand {
    static let usage = """
    usage: xunfang checkpoint seal-map [--out DIR] [--target SECONDS] [--reach METRES] [--data-dir DIR] [--bus ENDPOINT]
    Writes DIR/seal-map.json, seal-map.geojson and seal-map.html (DIR defaults to .).
    --target defaults to 180 (the 3-minute seal), --reach to 1500. Units are the live
    positions and the staffed checkpoints; grids are GridModel's. Connects as the ctl
    client (DIR/credentials/ctl).
    """

    public static func run(_ arguments: [String], environment: [String: String]? = nil) async -> Int32 {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let options = commandOptions(arguments, allowed: ["--out", "--target", "--reach", "--data-dir", "--bus"]) else { return fail(usage) }
        var request = Xunfang_Checkpoint_V1_SealMapRequest.with {
            $0.withGeojson = true
            $0.withHtml = true
        }
        for (name, value) in [("--target", options["--target"]), ("--reach", options["--reach"])] {
            guard let value else { continue }
            guard let number = Double(value), number > 0 else { return fail("\(name) \(value) is not a positive number") }
            if name == "--target" { request.targetSeconds = number } else { request.reachMetres = number }
        }
        let out = options["--out"] ?? "."
        let connection = ToolConnection(options: options, environment: environment)
        do {
            let map = try await connection.callOnce(CheckpointControlPlugin.service + "SealMap", request, as: SealMapResponse.self, timeout: .seconds(60))
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var summary = map
            summary.geojson = ""
            summary.html = ""
            try summary.jsonUTF8Data().write(to: URL(fileURLWithPath: "\(out)/seal-map.json"))
            try Data(map.geojson.utf8).write(to: URL(fileURLWithPath: "\(out)/seal-map.geojson"))
            try Data(map.html.utf8).write(to: URL(fileURLWithPath: "\(out)/seal-map.html"))
            let open = map.cells.filter { !$0.feasible }.map(\.gridID)
            print("\(map.feasibleGrids) of \(map.cells.count) grids can be sealed within \(Int(map.targetSeconds)) s by \(map.units) units "
                  + "(\(Int(map.computeMs)) ms); written to \(out)/seal-map.{json,geojson,html}")
            if !open.isEmpty { print("cannot be sealed in time: \(open.prefix(20).joined(separator: ", "))\(open.count > 20 ? ", …" : "")") }
            return 0
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang checkpoint seal-map: \(message)\n".utf8))
        return 1
    }
}
