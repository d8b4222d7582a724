public import CheckpointControlContract
import Foundation
import Logging
public import XunfangPluginKit

/// A city's seal orders (issue 19). The city activates one of its plans; the bridge brings
/// its board here on `checkpoint.seal` with `xunfang-origin-county: <city>`; this county
/// activates the plan `CHECKPOINT_CITY_PLANS` maps it to, and stands it down when the city
/// does. Our own board goes back to the city on the same topic through the bridge, so the
/// city follows each county's seal.
public struct CityOrders: Sendable, Equatable {
    public enum Action: Equatable {
        case activate(plan: String, drill: Bool, reason: String)
        case standDown(plan: String, cityActivation: String)
        case none
    }

    public let city: String
    /// The city's plan id → this county's plan id.
    public let plans: [String: String]

    public init(city: String, plans: [String: String]) {
        self.city = city
        self.plans = plans
    }

    /// `CHECKPOINT_CITY` (the city's token in the bridge's subjects) and `CHECKPOINT_CITY_PLANS`
    /// (`city-plan:our-plan,...`); nil when neither is set.
    public init?(settings: [String: String]) throws(SettingError) {
        let city = settings["CHECKPOINT_CITY"]?.trimmingCharacters(in: .whitespaces) ?? ""
        let text = settings["CHECKPOINT_CITY_PLANS"]?.trimmingCharacters(in: .whitespaces) ?? ""
        if city.isEmpty && text.isEmpty { return nil }
        guard !city.isEmpty, !text.isEmpty else { throw SettingError("CHECKPOINT_CITY and CHECKPOINT_CITY_PLANS go together") }
        var plans: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, plans[parts[0]] == nil else {
                throw SettingError("CHECKPOINT_CITY_PLANS: \"\(pair)\" is not city-plan:our-plan (each city plan once)")
            }
            plans[parts[0]] = parts[1]
        }
        self.init(city: city, plans: plans)
    }

    /// What a board on `checkpoint.seal` asks of this county (pure).
    public func action(for board: Xunfang_Checkpoint_V1_SealActivation, origin: String?) -> Action {
        guard origin == city, let plan = plans[board.plan] else { return .none }
        switch board.state {
        case .stoodDown: return .standDown(plan: plan, cityActivation: board.id)
        case .sealing, .sealed:
            return .activate(plan: plan, drill: board.drill, reason: String("\(Self.marker(board.id)) \(board.reason)".prefix(200)))
        default: return .none
        }
    }

    /// How our activation names the city's, so its stand-down finds ours.
    static func marker(_ cityActivation: String) -> String { "\(markerPrefix)\(cityActivation):" }
    static let markerPrefix = "市局指令 "

    /// Seal boards on `checkpoint.seal`: durable when the bus keeps the topic, else plain
    /// (and said so: `missed`, sent while this plugin is down, is lost).
    static func sealBoards(on bus: BusClient, durable: String, missed: String, logger: Logger) async throws -> Subscription {
        do {
            return try await bus.subscribe("checkpoint.seal", durable: durable)
        } catch {
            logger.warning("checkpoint.seal is not durable here: \(missed) sent while this plugin is down is missed", metadata: ["xunfang.error": "\(error)"])
            return try await bus.subscribe("checkpoint.seal")
        }
    }

    /// Follows the city's boards until cancelled: durable when the county's bus keeps
    /// `checkpoint.seal`, so an order sent while this plugin was down is acted on at its start.
    func follow(on bus: BusClient, seals: SealDesk, activate: @escaping @Sendable (Xunfang_Checkpoint_V1_ActivateRequest) async throws -> Void,
                logger: Logger) async throws {
        let subscription = try await Self.sealBoards(on: bus, durable: "checkpoint-city-orders", missed: "a city order", logger: logger)
        for await delivery in subscription {
            defer { delivery.ack() }
            guard let board = try? delivery.decode(Xunfang_Checkpoint_V1_SealActivation.self) else { continue }
            do {
                switch action(for: board, origin: delivery.headers["xunfang-origin-county"]) {
                case .none:
                    continue
                case .activate(let plan, let drill, let reason):
                    // Every change of the city's board comes again: act on the first only.
                    guard try !seals.isRunning(plan: plan) else { continue }
                    try await activate(.with { $0.plan = plan; $0.drill = drill; $0.officer = "\(city) 市局"; $0.reason = reason })
                    logger.notice("city seal order: plan activated", metadata: ["xunfang.plan": "\(plan)", "xunfang.city_activation": "\(board.id)"])
                case .standDown(let plan, let cityActivation):
                    guard let ours = try seals.running(plan: plan, reasonPrefix: Self.marker(cityActivation)) else { continue }
                    _ = try seals.standDown(.with { $0.activation = ours; $0.officer = "\(city) 市局"; $0.reason = "市局解除 \(cityActivation)" }, caller: "bridge")
                    logger.notice("city stood down: plan stood down", metadata: ["xunfang.plan": "\(plan)", "xunfang.city_activation": "\(cityActivation)"])
                }
            } catch {
                logger.error("a city seal order could not be carried out", metadata: ["xunfang.city_activation": "\(board.id)", "xunfang.error": "\(error)"])
            }
        }
    }
}
