import Foundation
import Hummingbird
import NIOCore

/// The one rule every request's input meets before a route sees it: text Postgres can store and decoders can read.
///
/// Postgres refuses NUL in `text` and `jsonb`, and a lone UTF-16 surrogate (`"\ud800"`) has no UTF-8 form, so either
/// would fail a write half-way as a 500. Deep nesting is refused before a recursive decoder walks it.
public enum StorableInput {
    public static let maxDepth = 64

    /// The first problem in a request body, naming the field it is in (`customer.email`, `photos[2]`); nil when it is fine.
    /// Bodies that are not JSON are only checked for UTF-8 and NUL: their route's decoder refuses them.
    public static func problem(inBody bytes: some Collection<UInt8>) -> FieldProblem? {
        guard String(validating: bytes, as: UTF8.self) != nil else { return FieldProblem("body", "is not UTF-8 text") }
        var scanner = JSONScanner(bytes: Array(bytes))
        return scanner.firstProblem()
    }

    /// The first problem in a decoded query or path value.
    public static func problem(inText text: some StringProtocol, field: String) -> FieldProblem? {
        text.utf8.contains(0) ? FieldProblem(field, nulProblem) : nil
    }

    static let nulProblem = "contains a NUL character, which cannot be stored"
    static let surrogateProblem = "contains an unpaired UTF-16 surrogate, which is not text"
    static let depthProblem = "is nested deeper than \(maxDepth) levels"
}

/// Walks JSON bytes once, keeping the path to the current value; reports the first string that cannot be stored.
/// Malformed JSON is not its business: it stops quietly and leaves that to the decoder.
struct JSONScanner {
    private enum Container {
        case object(key: String?)
        case array(index: Int)
    }

    private let bytes: [UInt8]
    private var position = 0
    private var containers: [Container] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var path: String {
        var path = ""
        for container in containers {
            switch container {
            case .object(let key?): path += path.isEmpty ? key : "." + key
            case .object(nil): break
            case .array(let index): path += "[\(index)]"
            }
        }
        return path.isEmpty ? "body" : path
    }

    mutating func firstProblem() -> FieldProblem? {
        var expectingKey = false
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard containers.count < StorableInput.maxDepth else { return FieldProblem(path, StorableInput.depthProblem) }
                containers.append(byte == UInt8(ascii: "{") ? .object(key: nil) : .array(index: 0))
                expectingKey = byte == UInt8(ascii: "{")
                position += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard !containers.isEmpty else { return nil }
                containers.removeLast()
                expectingKey = false
                position += 1
            case UInt8(ascii: ","):
                switch containers.last {
                case .array(let index): containers[containers.count - 1] = .array(index: index + 1)
                case .object: expectingKey = true
                case nil: return nil
                }
                position += 1
            case UInt8(ascii: "\""):
                let isKey = expectingKey
                if isKey, case .object = containers.last { containers[containers.count - 1] = .object(key: nil) }
                switch scanString() {
                case .problem(let problem):
                    return FieldProblem(path, problem)
                case .text(let text):
                    if isKey, case .object = containers.last { containers[containers.count - 1] = .object(key: text) }
                case .malformed:
                    return nil
                }
                expectingKey = false
            case 0:
                return FieldProblem(path, StorableInput.nulProblem)
            default:
                position += 1
            }
        }
        return nil
    }

    private enum ScannedString {
        case text(String)
        case problem(String)
        case malformed
    }

    /// Reads the string starting at the opening quote; the text is kept only as long as a key needs.
    private mutating func scanString() -> ScannedString {
        position += 1
        var text: [UInt8] = []
        var pendingHighSurrogate = false
        while position < bytes.count {
            let byte = bytes[position]
            if pendingHighSurrogate, byte != UInt8(ascii: "\\") { return .problem(StorableInput.surrogateProblem) }
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                if pendingHighSurrogate { return .problem(StorableInput.surrogateProblem) }
                return .text(String(decoding: text, as: UTF8.self))
            case 0:
                return .problem(StorableInput.nulProblem)
            case UInt8(ascii: "\\"):
                guard position + 1 < bytes.count else { return .malformed }
                let escaped = bytes[position + 1]
                if escaped == UInt8(ascii: "u") {
                    guard position + 6 <= bytes.count, let unit = Self.hexValue(bytes[(position + 2)..<(position + 6)]) else { return .malformed }
                    position += 6
                    switch unit {
                    case 0:
                        return .problem(StorableInput.nulProblem)
                    case 0xD800...0xDBFF:
                        if pendingHighSurrogate { return .problem(StorableInput.surrogateProblem) }
                        pendingHighSurrogate = true
                    case 0xDC00...0xDFFF:
                        guard pendingHighSurrogate else { return .problem(StorableInput.surrogateProblem) }
                        pendingHighSurrogate = false
                    default:
                        if pendingHighSurrogate { return .problem(StorableInput.surrogateProblem) }
                        if text.count < 256, let scalar = Unicode.Scalar(unit) { text.append(contentsOf: String(Character(scalar)).utf8) }
                    }
                } else {
                    if pendingHighSurrogate { return .problem(StorableInput.surrogateProblem) }
                    if text.count < 256 { text.append(escaped) }
                    position += 2
                }
            default:
                if text.count < 256 { text.append(byte) }
                position += 1
            }
        }
        return .malformed
    }

    private static func hexValue(_ digits: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = digit - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(nibble)
        }
        return value
    }
}

/// Applies `StorableInput` to every request of a service: query values, path segments and the body (buffered up to
/// `bodyLimit`, so routes read it from memory), before any route can write it.
public struct StorableInputMiddleware: RouterMiddleware {
    public typealias Context = ServiceRequestContext
    let bodyLimit: Int

    public init(bodyLimit: Int) {
        self.bodyLimit = bodyLimit
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        for (name, value) in request.uri.queryParameters {
            if let problem = StorableInput.problem(inText: name, field: "query") ?? StorableInput.problem(inText: value, field: "query." + name) {
                throw APIError.invalidPayload([problem])
            }
        }
        for segment in request.uri.path.split(separator: "/") {
            if let problem = StorableInput.problem(inText: segment.removingPercentEncoding ?? String(segment), field: "path") {
                throw APIError.invalidPayload([problem])
            }
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: bodyLimit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "payload_too_large", "the body is larger than \(bodyLimit) bytes")
        }
        if let problem = StorableInput.problem(inBody: body.readableBytesView) { throw APIError.invalidPayload([problem]) }
        var request = request
        request.body = RequestBody(buffer: body)
        return try await next(request, context)
    }
}
