import Foundation

/// Larson's hypercube queueing model (R. C. Larson, "A hypercube queuing model for facility
/// location and redistricting in urban emergency services", Computers & OR 1, 1974), the
/// analytical anchor the county simulator is checked against: `servers` units, demand atoms
/// with Poisson call rates, each atom's fixed preference order of units, exponential service
/// (at one rate, or each unit at its own: a unit that covers far atoms is out longer), and a call that finds every unit busy either lost (zero line capacity) or
/// queued first come first served (up to `queueLimit`, a truncation of the infinite queue).
///
/// The state is which units are busy (a vertex of the N-cube) and, with every unit busy,
/// how many calls wait. The balance equations are solved exactly (Gauss–Seidel to 1e-13).
public struct Hypercube: Sendable {
    public struct Atom: Sendable {
        /// Calls per unit time.
        public var rate: Double
        /// Units in the order this atom's calls go to them (every unit, nearest first).
        public var preference: [Int]
        /// Travel time from each unit (by unit index) to this atom.
        public var travel: [Double]

        public init(rate: Double, preference: [Int], travel: [Double]) {
            self.rate = rate
            self.preference = preference
            self.travel = travel
        }
    }

    public let servers: Int
    public let atoms: [Atom]
    /// Each unit's service rate (1 / its mean time out).
    public let serviceRates: [Double]
    public let queueLimit: Int

    public init(servers: Int, atoms: [Atom], serviceRate: Double, queueLimit: Int = 0) throws(HarnessError) {
        try self.init(servers: servers, atoms: atoms, serviceRates: [Double](repeating: serviceRate, count: max(0, servers)), queueLimit: queueLimit)
    }

    public init(servers: Int, atoms: [Atom], serviceRates: [Double], queueLimit: Int = 0) throws(HarnessError) {
        guard (1...12).contains(servers) else { throw HarnessError("the hypercube is solved for 1 to 12 units, not \(servers)") }
        guard serviceRates.count == servers, serviceRates.allSatisfy({ $0 > 0 }), queueLimit >= 0, !atoms.isEmpty else {
            throw HarnessError("a hypercube needs atoms, a positive service rate for each unit and a queue limit ≥ 0")
        }
        for atom in atoms where Set(atom.preference) != Set(0..<servers) || atom.preference.count != servers || atom.travel.count != servers || atom.rate < 0 {
            throw HarnessError("each atom needs a rate ≥ 0, every unit once in its preference and a travel time from each")
        }
        self.servers = servers
        self.atoms = atoms
        self.serviceRates = serviceRates
        self.queueLimit = queueLimit
    }

    public struct Solution: Sendable {
        /// Share of time each unit is busy.
        public var busy: [Double]
        /// Share of calls lost (zero line capacity) or turned away at the queue's limit.
        public var lost: Double
        /// Share of calls that waited in the queue.
        public var queued: Double
        /// Share of all dispatches that sent unit i to atom j, `[i][j]`.
        public var dispatches: [[Double]]
        /// Mean travel time of a dispatched call (queued calls take the mean over units).
        public var meanTravel: Double
    }

    var full: Int { (1 << servers) - 1 }
    /// States: every busy set below full, then full with 0 ... queueLimit waiting.
    var stateCount: Int { full + 1 + queueLimit }
    func index(busySet: Int) -> Int { busySet }
    func index(waiting: Int) -> Int { full + waiting }

    /// The unit an atom's call goes to in a busy set (nil when all are busy).
    func unit(for atom: Atom, busySet: Int) -> Int? { atom.preference.first { busySet & (1 << $0) == 0 } }

    public func solve() -> Solution {
        let total = atoms.map(\.rate).reduce(0, +)
        // Incoming transitions per state: (from, rate); and each state's outflow.
        var incoming = [[(Int, Double)]](repeating: [], count: stateCount)
        var outflow = [Double](repeating: 0, count: stateCount)
        func add(_ from: Int, _ to: Int, _ rate: Double) {
            guard rate > 0 else { return }
            incoming[to].append((from, rate))
            outflow[from] += rate
        }
        for busySet in 0..<full {
            for atom in atoms {
                if let unit = unit(for: atom, busySet: busySet) {
                    let next = busySet | (1 << unit)
                    add(busySet, next == full ? index(waiting: 0) : next, atom.rate)
                }
            }
            for unit in 0..<servers where busySet & (1 << unit) != 0 { add(busySet, busySet & ~(1 << unit), serviceRates[unit]) }
        }
        for waiting in 0...queueLimit {
            let state = index(waiting: waiting)
            if waiting < queueLimit { add(state, index(waiting: waiting + 1), total) }
            if waiting > 0 {
                add(state, index(waiting: waiting - 1), serviceRates.reduce(0, +))
            } else {
                for unit in 0..<servers { add(state, full & ~(1 << unit), serviceRates[unit]) }
            }
        }
        var probability = [Double](repeating: 1 / Double(stateCount), count: stateCount)
        for _ in 0..<100_000 {
            var change = 0.0
            for state in 0..<stateCount where outflow[state] > 0 {
                let value = incoming[state].reduce(0) { $0 + probability[$1.0] * $1.1 } / outflow[state]
                change = max(change, abs(value - probability[state]))
                probability[state] = value
            }
            let sum = probability.reduce(0, +)
            for state in 0..<stateCount { probability[state] /= sum }
            if change < 1e-13 { break }
        }
        return solution(probability, total: total)
    }

    func solution(_ probability: [Double], total: Double) -> Solution {
        var busy = [Double](repeating: 0, count: servers)
        var dispatches = [[Double]](repeating: [Double](repeating: 0, count: atoms.count), count: servers)
        for busySet in 0..<full {
            for unit in 0..<servers where busySet & (1 << unit) != 0 { busy[unit] += probability[busySet] }
            for (j, atom) in atoms.enumerated() {
                if let unit = unit(for: atom, busySet: busySet) { dispatches[unit][j] += probability[busySet] * atom.rate }
            }
        }
        let allBusy = (0...queueLimit).map { probability[index(waiting: $0)] }.reduce(0, +)
        for unit in 0..<servers { busy[unit] += allBusy }
        let turnedAway = probability[index(waiting: queueLimit)]
        let waiting = allBusy - turnedAway
        // A queued call is served by whichever unit frees first: each as likely as its rate.
        let totalRate = serviceRates.reduce(0, +)
        for (j, atom) in atoms.enumerated() {
            for unit in 0..<servers { dispatches[unit][j] += waiting * atom.rate * serviceRates[unit] / totalRate }
        }
        let served = dispatches.joined().reduce(0, +)
        var travel = 0.0
        for unit in 0..<servers {
            for (j, atom) in atoms.enumerated() where served > 0 {
                dispatches[unit][j] /= served
                travel += dispatches[unit][j] * atom.travel[unit]
            }
        }
        return Solution(busy: busy, lost: turnedAway, queued: waiting, dispatches: dispatches, meanTravel: travel)
    }

    /// Erlang's loss formula B(N, a), offered load a = λ/μ: the hypercube's loss share when
    /// every unit is alike.
    public static func erlangB(servers: Int, load: Double) -> Double {
        var b = 1.0
        for n in 1...max(1, servers) { b = load * b / (Double(n) + load * b) }
        return b
    }
}

/// The hypercube's world simulated call by call (Poisson calls, exponential service, each
/// call to its atom's first free unit, a first-come-first-served queue up to the limit):
/// what the county simulator must reproduce, with batch-means intervals to judge agreement.
public enum HypercubeSimulation {
    public struct Result: Sendable {
        /// Each unit's busy share: the mean and the 95% half-width over batches.
        public var busy: [(mean: Double, halfWidth: Double)]
        public var lost: (mean: Double, halfWidth: Double)
        public var meanTravel: (mean: Double, halfWidth: Double)
    }

    public static func run(_ model: Hypercube, calls: Int, batches: Int = 20, seed: UInt64) -> Result {
        var coin = Calls.Coin(state: seed | 1)
        func exponential(_ rate: Double) -> Double { -log(1 - coin.next()) / rate }
        let total = model.atoms.map(\.rate).reduce(0, +)
        var clock = 0.0
        var ends = [Double?](repeating: nil, count: model.servers)
        var queue: [Int] = []
        var busyTime = [[Double]](repeating: [Double](repeating: 0, count: model.servers), count: batches)
        var batchLength = [Double](repeating: 0, count: batches)
        var lost = [Int](repeating: 0, count: batches), offered = [Int](repeating: 0, count: batches)
        var travel = [Double](repeating: 0, count: batches), served = [Int](repeating: 0, count: batches)
        var nextCall = exponential(total)
        let perBatch = calls / batches
        var made = 0
        while made < perBatch * batches {
            let batch = made / perBatch
            let soonest = ends.enumerated().compactMap { unit, end in end.map { (unit, $0) } }.min { $0.1 < $1.1 }
            let until = min(nextCall, soonest?.1 ?? .infinity)
            for unit in 0..<model.servers where ends[unit] != nil { busyTime[batch][unit] += until - clock }
            batchLength[batch] += until - clock
            clock = until
            if let (unit, end) = soonest, end <= nextCall {
                if queue.isEmpty {
                    ends[unit] = nil
                } else {
                    let atom = queue.removeFirst()
                    travel[batch] += model.atoms[atom].travel[unit]
                    served[batch] += 1
                    ends[unit] = clock + exponential(model.serviceRates[unit])
                }
                continue
            }
            made += 1
            offered[batch] += 1
            var pick = coin.next() * total, atom = 0
            while atom < model.atoms.count - 1, pick >= model.atoms[atom].rate { pick -= model.atoms[atom].rate; atom += 1 }
            if let unit = model.atoms[atom].preference.first(where: { ends[$0] == nil }) {
                travel[batch] += model.atoms[atom].travel[unit]
                served[batch] += 1
                ends[unit] = clock + exponential(model.serviceRates[unit])
            } else if queue.count < model.queueLimit {
                queue.append(atom)
            } else {
                lost[batch] += 1
            }
            nextCall = clock + exponential(total)
        }
        // The first batch warms the system up and is left out.
        let kept = 1..<batches
        let busy = (0..<model.servers).map { unit in Comparison.interval(kept.map { busyTime[$0][unit] / batchLength[$0] }) }
        return Result(busy: busy, lost: Comparison.interval(kept.map { Double(lost[$0]) / Double(max(1, offered[$0])) }),
                      meanTravel: Comparison.interval(kept.map { travel[$0] / Double(max(1, served[$0])) }))
    }
}
