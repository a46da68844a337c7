import AsyncHTTPClient
import Foundation
import NIOCore
import ServiceKit

/// The model could not write the narrative; the reason goes into the insight as `fallbackReason`.
struct NarrativeFailure: Error, Equatable, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// Where the model lives: OpenAI, or any server speaking its chat completions API.
struct ModelSettings: Sendable {
    var apiKey: String
    var baseURL = "https://api.openai.com/v1"
    var model = "gpt-4o-mini"
    var timeout: Duration = .seconds(20)
}

/// Sends the engine's report to a chat completions API with a JSON-schema response format and reads back the
/// narrative. One attempt: the caller falls back to the engine's own prose rather than keep a user waiting.
struct ModelNarrator: Sendable {
    let http: HTTPClient
    let settings: ModelSettings

    static let instructions = """
        You are a revenue analyst writing for the founder of a SaaS company. You receive a JSON report computed from \
        their Stripe metrics: money is in minor units of the currency named in basis.currency, rates are fractions. \
        Write a short summary and at most five highlights. Use only numbers that appear in the report; never invent one.
        """

    /// The schema the model's answer must follow (OpenAI's strict structured outputs).
    static let schema: JSONValue = [
        "type": "object",
        "additionalProperties": false,
        "required": ["summary", "highlights"],
        "properties": [
            "summary": ["type": "string"],
            "highlights": ["type": "array", "items": ["type": "string"]],
        ],
    ]

    struct ChatRequest: Encodable {
        struct Message: Encodable {
            var role: String
            var content: String
        }
        struct ResponseFormat: Encodable {
            struct Schema: Encodable {
                var name: String
                var strict: Bool
                var schema: JSONValue
            }
            var type = "json_schema"
            var jsonSchema: Schema
            enum CodingKeys: String, CodingKey {
                case type
                case jsonSchema = "json_schema"
            }
        }
        var model: String
        var messages: [Message]
        var responseFormat: ResponseFormat
        var temperature: Double = 0.2
        enum CodingKeys: String, CodingKey {
            case model, messages, temperature
            case responseFormat = "response_format"
        }
    }

    struct ChatResponse: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable {
                var content: String?
                var refusal: String?
            }
            var message: Message
        }
        var choices: [Choice]
    }

    func narrative(for report: InsightReport) async throws -> InsightNarrative {
        let facts = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        let body = ChatRequest(
            model: settings.model,
            messages: [.init(role: "system", content: Self.instructions), .init(role: "user", content: facts)],
            responseFormat: .init(jsonSchema: .init(name: "insight_narrative", strict: true, schema: Self.schema))
        )
        var request = HTTPClientRequest(url: settings.baseURL + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(settings.apiKey)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
        let answer: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: TimeAmount(settings.timeout))
            answer = try await response.body.collect(upTo: 1024 * 1024)
            guard response.status == .ok else { throw NarrativeFailure(reason: "the model answered \(response.status.code)") }
        } catch let failure as NarrativeFailure {
            throw failure
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw NarrativeFailure(reason: "the model did not answer within \(settings.timeout.components.seconds) s")
        } catch {
            throw NarrativeFailure(reason: "the model could not be reached")
        }
        guard let message = (try? JSONDecoder().decode(ChatResponse.self, from: answer))?.choices.first?.message else {
            throw NarrativeFailure(reason: "the model's answer was not a chat completion")
        }
        if message.refusal != nil { throw NarrativeFailure(reason: "the model refused") }
        guard let content = message.content, let narrative = try? JSONDecoder().decode(InsightNarrative.self, from: Data(content.utf8)),
            !narrative.summary.isEmpty, narrative.highlights.count <= 5
        else { throw NarrativeFailure(reason: "the model's answer did not follow the schema") }
        return narrative
    }
}
