import Foundation
import XunfangPluginKit
import PatrolContract

/// `xunfang patrol cameras`, `video-schedule` and `seen-on-camera`: the video patrol desk
/// from the command line.
enum VideoCommands {
    static let service = PatrolPlugin.service

    /// `cameras [--import FILE.csv|FILE.geojson] [--grade key|attention|general] [--station ID] [--grid ID] [--limit N] [--json]`.
    static func cameras(_ arguments: [String]) async -> Int32 {
        let usage = "usage: xunfang patrol cameras [--import FILE.csv|FILE.geojson] [--grade key|attention|general] [--station ID] [--grid ID] [--limit N] [--json yes]"
        guard let options = commandOptions(arguments, allowed: ["--import", "--grade", "--station", "--grid", "--limit", "--json", "--data-dir", "--bus"]) else {
            return RosterCommands.fail("cameras", usage)
        }
        do {
            let connection = try ToolConnection(options: options)
            if let path = options["--import"] {
                var request = Xunfang_Patrol_V1_ImportCamerasRequest()
                let text = try String(contentsOfFile: path, encoding: .utf8)
                if path.lowercased().hasSuffix("json") { request.geojson = text } else { request.csv = text }
                let answer = try await connection.callOnce(service + "ImportCameras", request, as: Xunfang_Patrol_V1_ImportCamerasResponse.self)
                guard answer.errors.isEmpty else {
                    for error in answer.errors { FileHandle.standardError.write(Data("\(path):\(error.line): \(error.message)\n".utf8)) }
                    return RosterCommands.fail("cameras", "nothing imported: \(answer.errors.count) error(s)")
                }
                print("imported \(answer.imported) cameras from \(path)")
                return 0
            }
            var request = Xunfang_Patrol_V1_CamerasRequest()
            if let grade = options["--grade"] {
                guard let value = Cameras.grade(grade) else { return RosterCommands.fail("cameras", "--grade \(grade): use key, attention or general") }
                request.grade = value
            }
            request.stationID = options["--station"] ?? ""
            request.gridID = options["--grid"] ?? ""
            request.limit = UInt32(options["--limit"] ?? "") ?? 50
            let answer = try await connection.callOnce(service + "Cameras", request, as: Xunfang_Patrol_V1_CamerasResponse.self)
            if options["--json"] != nil {
                print(try answer.jsonString())
                return 0
            }
            let graded = answer.gradedAt > 0 ? "graded from Situation's plan at \(ChinaTime.format(milliseconds: answer.gradedAt))" : "as registered (no plan yet)"
            print("\(answer.key + answer.attention + answer.general) cameras: \(answer.key) key, \(answer.attention) attention, \(answer.general) general; \(graded)")
            print("\(answer.total) match; showing \(answer.cameras.count)")
            for camera in answer.cameras {
                print("\(camera.id)  \(Cameras.label(camera.grade))  \(camera.name)  grid \(camera.gridID.isEmpty ? "-" : camera.gridID)  (\(camera.gradeReason))")
            }
            return 0
        } catch {
            return RosterCommands.fail("cameras", "\(error)")
        }
    }

    /// `video-schedule [--from "YYYY-MM-DD HH:MM"] [--hours N] [--grade G] [--station ID] [--json yes]`.
    static func schedule(_ arguments: [String]) async -> Int32 {
        let usage = "usage: xunfang patrol video-schedule [--from \"YYYY-MM-DD HH:MM\"] [--hours 1-24] [--grade key|attention|general] [--station ID] [--json yes]"
        guard let options = commandOptions(arguments, allowed: ["--from", "--hours", "--grade", "--station", "--json", "--data-dir", "--bus"]) else {
            return RosterCommands.fail("video-schedule", usage)
        }
        var request = Xunfang_Patrol_V1_VideoScheduleRequest()
        if let from = options["--from"] {
            guard let start = ChinaTime.parse(from) else { return RosterCommands.fail("video-schedule", "--from \(from) is not YYYY-MM-DD HH:MM (China time)") }
            request.from = start
        }
        if let hours = options["--hours"] {
            guard let value = UInt32(hours), (1...24).contains(value) else { return RosterCommands.fail("video-schedule", "--hours \(hours): 1 to 24") }
            request.hours = value
        }
        if let grade = options["--grade"] {
            guard let value = Cameras.grade(grade) else { return RosterCommands.fail("video-schedule", "--grade \(grade): use key, attention or general") }
            request.grade = value
        }
        request.stationID = options["--station"] ?? ""
        do {
            let answer = try await ToolConnection(options: options).callOnce(service + "VideoSchedule", request, as: Xunfang_Patrol_V1_VideoScheduleResponse.self)
            if options["--json"] != nil {
                print(try answer.jsonString())
                return 0
            }
            let every = answer.everyMinutes.map { "\($0)" }.joined(separator: "/")
            print("video patrol \(ChinaTime.minute(milliseconds: answer.from)) – \(ChinaTime.hourMinute(milliseconds: answer.to)): "
                  + "\(answer.checks.count) checks, \(Int(answer.checksPerHour.rounded())) an hour (key/attention/general every \(every) min)")
            for check in answer.checks.prefix(200) {
                print("\(ChinaTime.hourMinute(milliseconds: check.at))  \(Cameras.label(check.grade))  \(check.cameraID)  \(check.cameraName)")
            }
            if answer.checks.count > 200 { print("… \(answer.checks.count - 200) more (--json for all)") }
            return 0
        } catch {
            return RosterCommands.fail("video-schedule", "\(error)")
        }
    }

    /// `seen-on-camera --camera ID --type CODE --operator NAME [--note TEXT] [--id EXTERNAL_ID]`.
    static func seen(_ arguments: [String]) async -> Int32 {
        let usage = "usage: xunfang patrol seen-on-camera --camera ID --type CODE --operator NAME [--note TEXT] [--id EXTERNAL_ID]"
        guard let options = commandOptions(arguments, allowed: ["--camera", "--type", "--operator", "--note", "--id", "--data-dir", "--bus"]),
              let camera = options["--camera"], let type = options["--type"], let person = options["--operator"] else {
            return RosterCommands.fail("seen-on-camera", usage)
        }
        var request = Xunfang_Patrol_V1_SeenOnCameraRequest()
        request.cameraID = camera
        request.typeCode = type
        request.operator = person
        request.note = options["--note"] ?? ""
        request.externalID = options["--id"] ?? ""
        do {
            let answer = try await ToolConnection(options: options).callOnce(service + "SeenOnCamera", request, as: Xunfang_Patrol_V1_SeenOnCameraResponse.self)
            print("\(answer.incidentID) \(answer.linked ? "(joined an open incident) " : "")at camera \(answer.camera.name) (\(answer.camera.id)), grid \(answer.camera.gridID)")
            return 0
        } catch {
            return RosterCommands.fail("seen-on-camera", "\(error)")
        }
    }
}
