import Foundation
import XunfangGeo
import XunfangPluginKit
import DispatchContract
import GridModelContract
import PatrolContract
import SituationAnalysisContract

/// The video patrol desk on the bus: the camera registry imported and placed in GridModel's
/// grids, grades re-set whenever Situation makes a plan, the desk's schedule, and "seen on
/// camera" turned into a Dispatch incident at the camera, linked both ways.
extension PatrolPlugin {
    static let intake = "/xunfang.dispatch.v1.Dispatch/Intake"

    func importCameras(_ request: Xunfang_Patrol_V1_ImportCamerasRequest, bus: BusClient) async throws -> Xunfang_Patrol_V1_ImportCamerasResponse {
        guard request.csv.isEmpty != request.geojson.isEmpty else { throw BusClientError(.invalidArgument, "give the cameras as csv or as geojson, one of them") }
        guard request.csv.utf8.count + request.geojson.utf8.count <= Cameras.maxImportBytes else { throw BusClientError(.invalidArgument, "the registry is over 8 MiB") }
        var response = Xunfang_Patrol_V1_ImportCamerasResponse()
        let (cameras, errors) = Cameras.read(request)
        response.errors = errors.map { line, message in
            var error = Xunfang_Patrol_V1_LineError()
            error.line = UInt32(line)
            error.message = message
            return error
        }
        guard errors.isEmpty else { return response }
        let known = Set(try duty.store.cameras().map(\.id))
        guard known.union(cameras.map(\.id)).count <= Cameras.maxCameras else { throw BusClientError(.resourceExhausted, "the registry would hold over \(Cameras.maxCameras) cameras") }
        try await keep(cameras, placedBy: await evaluator(bus))
        response.imported = UInt32(cameras.count)
        return response
    }

    /// Cameras placed in the evaluator's grids and graded by the newest plan, then kept.
    func keep(_ cameras: [Xunfang_Patrol_V1_Camera], placedBy evaluator: PatrolCompliance) async throws {
        let plan = try duty.store.latestPlan()
        try await onOwnThread { [duty] in
            let placed = cameras.map { camera in
                var camera = camera
                let grid = evaluator.grid(containing: evaluator.point(camera.position))
                camera.gridID = grid?.id ?? ""
                camera.stationID = grid?.station ?? ""
                return camera
            }
            try duty.store.put(cameras: plan.map { Cameras.regrade(placed, plan: $0) } ?? placed)
        }
    }

    /// Every camera's grade re-set from a new plan.
    func regradeCameras(_ plan: Xunfang_Situation_V1_DeploymentPlan) async throws {
        try await onOwnThread { [duty] in
            let cameras = try duty.store.cameras()
            guard !cameras.isEmpty else { return }
            let graded = Cameras.regrade(cameras, plan: plan)
            try duty.store.regraded(graded, at: duty.now())
            logger.info("cameras re-graded", metadata: ["xunfang.key": "\(graded.filter { $0.grade == .key }.count)",
                                                        "xunfang.attention": "\(graded.filter { $0.grade == .attention }.count)", "xunfang.cameras": "\(graded.count)"])
        }
    }

    func cameras(_ request: Xunfang_Patrol_V1_CamerasRequest) throws -> Xunfang_Patrol_V1_CamerasResponse {
        guard request.limit <= 20_000 else { throw BusClientError(.invalidArgument, "limit is at most 20000") }
        let all = try duty.store.cameras()
        let chosen = all.filter {
            (request.grade == .unspecified || $0.grade == request.grade) && (request.gridID.isEmpty || $0.gridID == request.gridID)
                && (request.stationID.isEmpty || $0.stationID == request.stationID)
        }
        var response = Xunfang_Patrol_V1_CamerasResponse()
        response.total = UInt32(chosen.count)
        response.cameras = Array(chosen.sorted { ($0.grade.rawValue, $0.id) < ($1.grade.rawValue, $1.id) }.prefix(Int(request.limit == 0 ? 1_000 : request.limit)))
        response.key = UInt32(all.filter { $0.grade == .key }.count)
        response.attention = UInt32(all.filter { $0.grade == .attention }.count)
        response.general = UInt32(all.count) - response.key - response.attention
        response.gradedAt = try duty.store.gradedAt()
        return response
    }

    func videoSchedule(_ request: Xunfang_Patrol_V1_VideoScheduleRequest) throws -> Xunfang_Patrol_V1_VideoScheduleResponse {
        guard request.hours <= 24 else { throw BusClientError(.invalidArgument, "hours is at most 24") }
        let from = request.from != 0 ? request.from : duty.now(), to = from + Int64(max(1, request.hours)) * 3_600_000
        let cameras = try duty.store.cameras().filter {
            (request.grade == .unspecified || $0.grade == request.grade) && (request.stationID.isEmpty || $0.stationID == request.stationID)
        }
        var response = Xunfang_Patrol_V1_VideoScheduleResponse()
        response.from = from
        response.to = to
        response.checks = Cameras.schedule(cameras, from: from, to: to, every: videoFrequencies)
        response.checksPerHour = Double(response.checks.count) / Double(max(1, request.hours))
        response.everyMinutes = [videoFrequencies.key, videoFrequencies.attention, videoFrequencies.general].map { UInt32($0) }
        return response
    }

    /// An incident at the camera's place through Dispatch's intake (source: video), kept with
    /// the camera. Retries with the same external id give the same incident.
    func seenOnCamera(_ request: Xunfang_Patrol_V1_SeenOnCameraRequest, bus: BusClient) async throws -> Xunfang_Patrol_V1_SeenOnCameraResponse {
        guard let camera = try duty.store.camera(request.cameraID) else { throw BusClientError(.notFound, "no camera \(request.cameraID) in the registry") }
        guard !request.typeCode.isEmpty else { throw BusClientError(.invalidArgument, "name the incident type (type_code)") }
        guard !request.operator.isEmpty, request.operator.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "name the operator who saw it (at most 64 bytes)") }
        guard request.note.utf8.count <= 1_000, request.externalID.utf8.count <= 100 else { throw BusClientError(.invalidArgument, "the note is over 1000 bytes or the external id over 100") }
        let now = duty.now()
        var intake = Xunfang_Dispatch_V1_IntakeRequest()
        intake.typeCode = request.typeCode
        intake.source = .video
        intake.location = camera.position
        intake.report = "视频巡逻 seen on camera \(camera.name) (\(camera.id))" + (request.note.isEmpty ? "" : ": \(request.note)")
        intake.externalID = "video:" + (request.externalID.isEmpty ? "\(camera.id):\(request.operator):\(now / 60_000)" : request.externalID)
        let answer = try await bus.call(Self.intake, intake, as: Xunfang_Dispatch_V1_IntakeResponse.self)
        let sighting = PatrolStore.Sighting(externalID: intake.externalID, cameraID: camera.id, at: now, by: request.operator, typeCode: request.typeCode,
                                            note: request.note, incidentID: answer.incident.id)
        let kept = try duty.store.record(sighting)
        var response = Xunfang_Patrol_V1_SeenOnCameraResponse()
        response.incidentID = kept.incidentID
        response.linked = answer.linked
        response.camera = camera
        return response
    }

    /// The demo county's cameras when the registry is empty: one at every junction of three
    /// roads or more and one along every fourth longer road, up to `count` (a tenth of the
    /// documents' 18,000); arterial junctions registered for attention, the rest general.
    static func demoCameras(on graph: RoadGraph, count: Int = 1_800) -> [Xunfang_Patrol_V1_Camera] {
        var cameras: [Xunfang_Patrol_V1_Camera] = []
        func add(_ id: String, _ name: String, at point: GeoPoint, grade: Xunfang_Patrol_V1_CameraGrade, view: String) {
            guard cameras.count < count else { return }
            var camera = Xunfang_Patrol_V1_Camera()
            camera.id = id
            camera.name = name
            camera.position.longitude = point.longitude
            camera.position.latitude = point.latitude
            camera.registeredGrade = grade
            camera.grade = grade
            camera.view = view
            camera.gradeReason = "as registered"
            cameras.append(camera)
        }
        for node in 0..<graph.nodeCount where graph.arcs(from: node).count >= 3 {
            let arterial = graph.arcs(from: node).contains { [.motorway, .trunk, .primary].contains(graph.arcClass[$0]) }
            let road = graph.arcs(from: node).map(graph.name(ofArc:)).first { !$0.isEmpty } ?? "路口"
            add(String(format: "CAM-J%05d", node), "\(road)路口", at: graph.coordinates[node], grade: arterial ? .attention : .general, view: "junction, all approaches")
        }
        for arc in stride(from: 0, to: graph.arcCount, by: 4) where graph.arcLength[arc] >= 300 {
            let a = graph.coordinates[graph.tail(ofArc: arc)], b = graph.coordinates[Int(graph.arcHead[arc])]
            let middle = GeoPoint(longitude: (a.longitude + b.longitude) / 2, latitude: (a.latitude + b.latitude) / 2)
            let road = graph.name(ofArc: arc)
            add(String(format: "CAM-R%05d", arc), road.isEmpty ? "道路\(arc)" : "\(road)沿线", at: middle, grade: .general, view: "along the road")
        }
        return cameras
    }

    /// Seeds the demo cameras into an empty registry once GridModel answers (for their grids).
    func seedDemoCameras(_ bus: BusClient) async {
        guard (try? duty.store.cameras().isEmpty) == true, let graph = matching?.matcher.graph else { return }
        var pause = Duration.milliseconds(200)
        while !Task.isCancelled {
            // GridModel's grids read once: they place the cameras too.
            let evaluator = await evaluator(bus)
            if !evaluator.grids.isEmpty {
                do {
                    try await keep(Self.demoCameras(on: graph), placedBy: evaluator)
                    return
                } catch {
                    logger.warning("demo cameras not kept; trying again", metadata: ["xunfang.error": "\(error)"])
                }
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
