import CRMRelay
import ServiceKit

@main
enum CRMRelayMain {
    static func main() async {
        await ServiceCommand<CRMRelayService>.main()
    }
}
