import DevOpsAPI
import ServiceKit

@main
enum DevOpsAPIMain {
    static func main() async {
        await ServiceCommand<DevOpsAPIService>.main()
    }
}
