import Foundation
import XunfangGeo
import XunfangPluginKit
import PatrolContract
import SituationAnalysisContract

/// The video patrol desk's cameras (视频巡逻): read from a CSV or GeoJSON registry, graded
/// key / attention / general, re-graded from Situation's hot cells, and checked on a
/// schedule each grade sets. Pure.
enum Cameras {
    static let maxImportBytes = 8 * 1024 * 1024
    static let maxCameras = 50_000

    static func grade(_ text: String) -> Xunfang_Patrol_V1_CameraGrade? {
        let grades: [String: Xunfang_Patrol_V1_CameraGrade] = ["key": .key, "重点": .key, "attention": .attention, "关注": .attention, "general": .general, "一般": .general]
        return grades[text.trimmingCharacters(in: .whitespaces).lowercased()]
    }

    static func label(_ grade: Xunfang_Patrol_V1_CameraGrade) -> String {
        switch grade {
        case .key: "重点 key"
        case .attention: "关注 attention"
        default: "一般 general"
        }
    }

    /// A camera from its registry fields, or why not.
    static func camera(id: String, name: String, longitude: Double?, latitude: Double?, grade: String, view: String) -> Result<Xunfang_Patrol_V1_Camera, ImportError> {
        guard (1...64).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.:".contains($0)) }) else {
            return .failure(ImportError("id \"\(id)\" must be 1 to 64 letters, digits, - _ . or :"))
        }
        guard let longitude, let latitude, abs(longitude) <= 180, abs(latitude) <= 90, longitude != 0 || latitude != 0 else {
            return .failure(ImportError("camera \(id): the position is not a WGS84 longitude and latitude"))
        }
        guard let registered = self.grade(grade) else { return .failure(ImportError("camera \(id): grade \"\(grade)\" is not key, attention or general (重点, 关注, 一般)")) }
        guard name.utf8.count <= 200, view.utf8.count <= 500 else { return .failure(ImportError("camera \(id): the name is over 200 bytes or the view over 500")) }
        var camera = Xunfang_Patrol_V1_Camera()
        camera.id = id
        camera.name = name.isEmpty ? id : name
        camera.position.longitude = longitude
        camera.position.latitude = latitude
        camera.registeredGrade = registered
        camera.grade = registered
        camera.view = view
        camera.gradeReason = "as registered"
        return .success(camera)
    }

    struct ImportError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// The registry's cameras, or its errors by line (CSV) or feature (GeoJSON), at most 100.
    static func read(_ request: Xunfang_Patrol_V1_ImportCamerasRequest) -> (cameras: [Xunfang_Patrol_V1_Camera], errors: [(Int, String)]) {
        var results: [(Int, Result<Xunfang_Patrol_V1_Camera, ImportError>)] = []
        if !request.csv.isEmpty {
            do {
                let table = try CSVTable(request.csv, header: ["id", "name", "longitude", "latitude", "grade", "view"])
                results = table.rows.map { row in
                    (row.line, camera(id: row["id"], name: row["name"], longitude: Double(row["longitude"]), latitude: Double(row["latitude"]), grade: row["grade"], view: row["view"]))
                }
            } catch {
                return ([], [(error.line, error.message)])
            }
        } else {
            do {
                results = try GeoJSON.parse(Data(request.geojson.utf8)).enumerated().map { index, feature in
                    guard case .point(let point)? = feature.geometry else { return (index + 1, .failure(ImportError("feature \(index + 1) is not a Point"))) }
                    let id = feature.string("id") ?? feature.id ?? ""
                    return (index + 1, camera(id: id, name: feature.string("name") ?? "", longitude: point.longitude, latitude: point.latitude,
                                              grade: feature.string("grade") ?? "general", view: feature.string("view") ?? ""))
                }
            } catch {
                return ([], [(1, "not GeoJSON: \(error)")])
            }
        }
        var cameras: [Xunfang_Patrol_V1_Camera] = [], errors: [(Int, String)] = [], seen = Set<String>()
        for (line, result) in results {
            switch result {
            case .success(let camera) where !seen.insert(camera.id).inserted: errors.append((line, "camera \(camera.id) appears twice"))
            case .success(let camera): cameras.append(camera)
            case .failure(let error): errors.append((line, error.message))
            }
        }
        if cameras.isEmpty && errors.isEmpty { errors.append((1, "no cameras")) }
        return (errors.isEmpty ? cameras : [], Array(errors.prefix(100)))
    }

    /// How the analysis re-sets grades (never below the registered grade):
    /// - key (重点): inside a hot cell of the shift's plan (within its half-diagonal, 180 m,
    ///   of the cell's centre);
    /// - attention (关注): within `attentionMetres` (500) of a hot cell's centre, or in a grid of
    ///   a station whose colour for the day is red or orange;
    /// - otherwise the registered grade.
    struct Rule: Sendable {
        var keyMetres = 180.0
        var attentionMetres = 500.0
    }

    static func regrade(_ cameras: [Xunfang_Patrol_V1_Camera], plan: Xunfang_Situation_V1_DeploymentPlan, rule: Rule = Rule()) -> [Xunfang_Patrol_V1_Camera] {
        let origin = cameras.first.map { GeoPoint(longitude: $0.position.longitude, latitude: $0.position.latitude) } ?? GeoPoint(longitude: 0, latitude: 0)
        let projection = LocalProjection(origin: origin)
        let cells = plan.hotCells.map { (id: $0.id, centre: projection.project(GeoPoint(longitude: $0.longitude, latitude: $0.latitude))) }
        let index = SpatialIndex(boxes: cells.map { BoundingBox(covering: [$0.centre]).expanded(by: rule.attentionMetres) })
        let alarmed = Dictionary(plan.stations.map { ($0.stationID, $0.colour) }, uniquingKeysWith: { first, _ in first }).filter { $0.value == .red || $0.value == .orange }
        return cameras.map { camera in
            var camera = camera
            let here = projection.project(GeoPoint(longitude: camera.position.longitude, latitude: camera.position.latitude))
            let nearest = index.candidates(containing: here).map { (cells[$0].id, cells[$0].centre.distance(to: here)) }.min { $0.1 < $1.1 }
            var (grade, reason) = (camera.registeredGrade, "as registered")
            if let (cell, metres) = nearest, metres <= rule.keyMetres {
                (grade, reason) = (.key, "in hot cell \(cell)")
            } else if let (cell, metres) = nearest, metres <= rule.attentionMetres {
                (grade, reason) = (.attention, "\(Int(metres.rounded())) m from hot cell \(cell)")
            } else if let colour = alarmed[camera.stationID] {
                (grade, reason) = (.attention, "station \(camera.stationID) is \(colour == .red ? "red" : "orange")")
            }
            // Grades run key = 1 < attention = 2 < general = 3: the lower number is the higher grade.
            if grade.rawValue > camera.registeredGrade.rawValue { (grade, reason) = (camera.registeredGrade, "as registered") }
            camera.grade = grade
            camera.gradeReason = reason
            return camera
        }
    }

    /// Minutes between checks of a camera of each grade: key, attention, general.
    struct Frequencies: Sendable, Equatable {
        var key: Int64 = 60
        var attention: Int64 = 240
        var general: Int64 = 1_440

        func minutes(_ grade: Xunfang_Patrol_V1_CameraGrade) -> Int64 {
            switch grade {
            case .key: key
            case .attention: attention
            default: general
            }
        }
    }

    /// Every check due in `from..<to`: each camera at its grade's interval, at a phase of its
    /// own (from its id) so checks spread evenly over the hours instead of all at the top.
    static func schedule(_ cameras: [Xunfang_Patrol_V1_Camera], from: Int64, to: Int64, every: Frequencies) -> [Xunfang_Patrol_V1_VideoCheck] {
        var checks: [Xunfang_Patrol_V1_VideoCheck] = []
        for camera in cameras {
            let interval = every.minutes(camera.grade) * 60_000
            let phase = Int64(stableHash(camera.id) % UInt64(interval / 60_000)) * 60_000
            // The first check at or after `from` on the camera's own beat.
            var at = from + ((phase - from) % interval + interval) % interval
            while at < to {
                var check = Xunfang_Patrol_V1_VideoCheck()
                check.at = at
                check.cameraID = camera.id
                check.cameraName = camera.name
                check.grade = camera.grade
                check.gridID = camera.gridID
                checks.append(check)
                at += interval
            }
        }
        return checks.sorted { ($0.at, $0.grade.rawValue, $0.cameraID) < ($1.at, $1.grade.rawValue, $1.cameraID) }
    }

    /// FNV-1a: the same on every run and machine (Swift's own hash is seeded per process).
    static func stableHash(_ text: String) -> UInt64 {
        text.utf8.reduce(14_695_981_039_346_656_037) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 }
    }
}
