import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// OpenAI's chat completions endpoint with structured outputs. It checks the request as OpenAI would (Bearer key,
/// messages, a `json_schema` response format) and answers with content that follows the schema, or, when told,
/// with content that does not. Timeouts and 5xx come from the shared `FaultInjector`.
public final class OpenAIFake: Sendable {
    public enum Answer: String, Codable, Sendable {
        /// JSON following the requested schema, written from the facts in the user message.
        case valid
        /// Content that is not JSON at all.
        case malformed
        /// JSON that ignores the schema.
        case offSchema = "off_schema"
    }

    public let apiKey: String
    private let mode = Mutex(Answer.valid)

    init(apiKey: String) {
        self.apiKey = apiKey
    }

    public var answer: Answer {
        get { mode.withLock { $0 } }
        set { mode.withLock { $0 = newValue } }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/v1/chat/completions") { request, _ in
            guard request.headers[.authorization] == "Bearer \(self.apiKey)" else {
                return try Self.error("Incorrect API key provided.", code: "invalid_api_key", status: .unauthorized)
            }
            var request = request
            let body = try await request.collectBody(upTo: 4 * 1024 * 1024)
            guard let json = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                let model = json["model"] as? String,
                let messages = json["messages"] as? [[String: Any]], !messages.isEmpty,
                let format = json["response_format"] as? [String: Any], format["type"] as? String == "json_schema",
                (format["json_schema"] as? [String: Any])?["schema"] is [String: Any]
            else {
                return try Self.error("model, messages and a json_schema response_format are required", code: "invalid_request", status: .badRequest)
            }
            let facts = (messages.last { $0["role"] as? String == "user" }?["content"] as? String).flatMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8))
            }
            let content: String
            switch self.answer {
            case .valid:
                let texts = Self.texts(in: facts as Any)
                let narrative: [String: Any] = [
                    "summary": "The sandbox model read \(texts.count) statements from the report.",
                    "highlights": Array(texts.prefix(3)),
                ]
                content = String(decoding: try JSONSerialization.data(withJSONObject: narrative, options: [.sortedKeys]), as: UTF8.self)
            case .malformed:
                content = "Here is your analysis: revenue looks {great"
            case .offSchema:
                content = #"{"analysis": 42}"#
            }
            let completion: [String: Any] = [
                "id": "chatcmpl-\(UUID().uuidString.prefix(12))",
                "object": "chat.completion",
                "created": Int(Date().timeIntervalSince1970),
                "model": model,
                "choices": [["index": 0, "message": ["role": "assistant", "content": content, "refusal": NSNull()], "finish_reason": "stop"]],
                "usage": [
                    "prompt_tokens": body.readableBytes / 4, "completion_tokens": content.utf8.count / 4,
                    "total_tokens": (body.readableBytes + content.utf8.count) / 4,
                ],
            ]
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: completion)))
            )
        }
        router.post("/_sandbox/openai") { request, context in
            self.answer = try await request.decode(as: [String: Answer].self, context: context)["answer"] ?? .valid
            return HTTPResponse.Status.noContent
        }
    }

    /// Every `text` value in the facts, in order: what a model would paraphrase.
    static func texts(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            return object.keys.sorted().flatMap { key -> [String] in
                if key == "text", let text = object[key] as? String { return [text] }
                return texts(in: object[key] as Any)
            }
        }
        if let array = value as? [Any] { return array.flatMap { texts(in: $0) } }
        return []
    }

    static func error(_ message: String, code: String, status: HTTPResponse.Status) throws -> Response {
        try jsonResponse(["error": ["message": message, "type": "invalid_request_error", "code": code]], status: status)
    }
}
