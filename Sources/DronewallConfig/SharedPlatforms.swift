/// Domains shared by many unrelated customers: CDNs, cloud and app hosting, app stores, big
/// consumer platforms. A catalogue entry that covers one of them (the domain itself or a parent)
/// would file every customer's traffic under one vendor, so the reader warns and the shipped
/// catalogue's lint test refuses it. Vendor-specific hosts below them (`myproject.firebaseio.com`)
/// are fine. Public suffixes proper are checked against Debian's publicsuffix list in the tests.
public enum SharedPlatforms {
    public static let apexDomains: Set<String> = [
        // CDNs
        "akamai.net", "akamaiedge.net", "akamaihd.net", "akamaized.net", "edgekey.net", "edgesuite.net",
        "cloudfront.net", "fastly.net", "fastlylb.net", "cloudflare.com", "cloudflare.net", "azureedge.net",
        "azurefd.net", "cdn77.org", "llnwd.net", "jsdelivr.net", "alicdn.com", "alikunlun.com", "kunlunca.com",
        "chinacache.net", "wscdns.com", "qiniucdn.com", "qbox.me", "bdydns.com", "cdntip.com",
        // cloud and app hosting
        "amazonaws.com", "amazonaws.com.cn", "awsglobalaccelerator.com", "elb.amazonaws.com",
        "azure.com", "windows.net", "cloudapp.net", "azurewebsites.net", "trafficmanager.net",
        "googleapis.com", "googleusercontent.com", "gstatic.com", "appspot.com", "cloudfunctions.net", "run.app",
        "web.app", "firebaseio.com", "firebaseapp.com", "app-measurement.com", "crashlytics.com",
        "aliyuncs.com", "aliyun.com", "alibabacloud.com", "myqcloud.com", "tencentcloudapi.com",
        "huaweicloud.com", "myhuaweicloud.com", "digitaloceanspaces.com", "herokuapp.com", "vercel.app",
        "netlify.app", "github.io", "githubusercontent.com", "github.com", "sentry.io", "bugsnag.com",
        // app stores and platform vendors
        "apple.com", "icloud.com", "mzstatic.com", "google.com", "android.com", "google-analytics.com",
        "microsoft.com", "huawei.com", "hicloud.com", "xiaomi.com", "xiaomi.net", "mi.com", "qq.com",
        "weixin.qq.com", "wechat.com", "weibo.com", "weibo.cn", "sina.cn", "sina.com.cn", "baidu.com",
        "facebook.com", "fbcdn.net",
    ]

    /// The shared domains `domain` covers (itself or domains below it), sorted.
    public static func covered(by domain: String) -> [String] {
        apexDomains.filter { HostPattern.domain(domain).covers(name: $0) }.sorted()
    }
}
