@testable import PatrolPlugin
import Foundation
import Testing
import XunfangGeo

@Suite("xunfang patrol match")
struct MatchCommandTests {
    @Test("a track reads as t,lon,lat in time order; a bad line, a position that is not WGS84 and a step back in time are named by line")
    func track() throws {
        let (fixes, lines) = try MatchCommand.track("t,lon,lat\n0,104.28,30.97\n\n5,104.281,30.971\n")
        #expect(fixes.count == 2 && lines == [2, 4] && fixes[1].time == 5)
        #expect(throws: MatchCommand.TrackError(line: 3, reason: "\"5,104.28\" is not t,lon,lat (three numbers)")) { try MatchCommand.track("t,lon,lat\n0,104.28,30.97\n5,104.28") }
        #expect((try? MatchCommand.track("0,204.28,30.97")) == nil)
        do {
            _ = try MatchCommand.track("10,104.28,30.97\n5,104.28,30.97")
            Issue.record("a step back in time must be refused")
        } catch {
            #expect(error.line == 2 && error.reason.contains("time order"))
        }
        #expect(throws: MatchCommand.TrackError.self) { try MatchCommand.track("t,lon,lat\n") }
    }

    @Test("a simulated drive on the demo roads is matched from a file; bad options and files are refused with a non-zero exit")
    func command() throws {
        let directory = NSTemporaryDirectory() + "xf-match-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let drive = try #require(SyntheticDrives.make(on: SyntheticRoads.county(.demoCounty), count: 1, interval: 5, noise: 8, seed: 3).first)
        let csv = "t,lon,lat\n" + drive.fixes.map { "\($0.time),\($0.point.longitude),\($0.point.latitude)" }.joined(separator: "\n") + "\n"
        try csv.write(toFile: "\(directory)/track.csv", atomically: true, encoding: .utf8)
        #expect(MatchCommand.run(["--graph", "demo", "--track", "\(directory)/track.csv", "--json"]) == 0)
        #expect(MatchCommand.run(["--graph", "demo", "--track", "\(directory)/track.csv", "--mode", "hovercraft"]) == 1)
        #expect(MatchCommand.run(["--graph", "\(directory)/none.graph", "--track", "\(directory)/track.csv"]) == 1)
        try "t,lon,lat\n0,104.28,30.97\nx,y,z\n".write(toFile: "\(directory)/bad.csv", atomically: true, encoding: .utf8)
        #expect(MatchCommand.run(["--graph", "demo", "--track", "\(directory)/bad.csv"]) == 1)
    }
}
