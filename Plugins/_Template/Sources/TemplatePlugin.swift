public import XunfangPluginKit
public import Foundation
import Synchronization
import TemplateContract

/// The canonical example plugin: copy this folder to start a new one
/// (`xunfang plugin new NAME`). It serves Echo and counts the notes it hears.
public struct TemplatePlugin: Plugin {
    public static let echoMethod = "/xunfang.template.v1.Template/Echo"
    public static let noteTopic = "template.note"
    public static let echoedTopic = "template.echoed"

    public static let manifest = PluginManifest(
        name: "template", version: "0.1.0",
        publishes: [echoedTopic], subscribes: [noteTopic], serves: [echoMethod],
        topicTypes: [echoedTopic: "xunfang.template.v1.EchoResponse", noteTopic: "xunfang.template.v1.Note"])

    public static var descriptorSet: Data { TemplateDescriptors.fileDescriptorSet }

    private let counter = NoteCounter()
    private let instance: String

    public init(context: PluginContext) throws {
        instance = context.instance
    }

    public func register(on bus: BusClient) {
        bus.serve(Self.echoMethod, placement: .arrivingThread) { [self] (request: Xunfang_Template_V1_EchoRequest, _) in
            guard request.text.utf8.count <= 4_096 else {
                throw BusClientError(.invalidArgument, "text longer than 4096 bytes")
            }
            var reply = Xunfang_Template_V1_EchoResponse()
            reply.text = request.text
            reply.servedBy = instance
            reply.notesSeen = counter.value.load(ordering: .relaxed)
            try? await bus.publish(Self.echoedTopic, reply)
            return reply
        }
    }

    public func run(on bus: BusClient) async throws {
        try await bus.consume(Self.noteTopic, as: Xunfang_Template_V1_Note.self) { [self] _, _ in
            counter.value.add(1, ordering: .relaxed)
        }
    }
}

private final class NoteCounter: Sendable {
    let value = Atomic<UInt64>(0)
}
