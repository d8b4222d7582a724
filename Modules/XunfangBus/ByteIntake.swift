public import NIOCore
public import XunfangWire

/// What a transport that reads bytes keeps for one connection between frames: the
/// strings its last frames repeated and the time of the current read.
public struct ByteIntake {
    var recentTopic = ""
    var recentCall = PlainRequest.Recent()
    var arrival: ArrivalTime?

    public init() {}

    /// A new read: its frames get a new arrival time, read once when first needed.
    public mutating func startRead() {
        arrival = nil
    }
}

extension Broker {
    /// Handles one frame's payload as read from a connection. Publishes, calls, answers
    /// without headers pass through read in place; the generated decoder takes the rest,
    /// and whatever the fast paths decline. A malformed payload throws; the transport
    /// then closes the connection.
    public func receive(payload: ByteBuffer, from session: SessionID, intake: inout ByteIntake) throws(WireError) {
        switch payload.getInteger(at: payload.readerIndex, as: UInt8.self) {
        case 4 << 3 | 2:
            if let plain = PlainPublish(frame: payload, recentTopic: &intake.recentTopic),
               receivePlainPublish(plain, from: session, at: arrivalTime(&intake)) { return }
        case 9 << 3 | 2:
            if let plain = PlainRequest(frame: payload, recent: &intake.recentCall),
               receivePlainRequest(plain, from: session, at: arrivalTime(&intake)) { return }
        case 10 << 3 | 2:
            if let plain = PlainResponse(frame: payload), receivePlainResponse(plain, from: session, at: arrivalTime(&intake)) { return }
        default:
            break
        }
        receive(try FrameDecoder.decode(Frame.self, from: payload), from: session)
    }

    private func arrivalTime(_ intake: inout ByteIntake) -> ArrivalTime {
        if let arrival = intake.arrival { return arrival }
        let arrival = ArrivalTime(clock)
        intake.arrival = arrival
        return arrival
    }
}
