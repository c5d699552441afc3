import { describe, expect, it } from "vitest";
import { checkUrl, classifyHost, parseIpv6 } from "./url-safety.ts";

describe("classifyHost", () => {
  it.each([
    ["example.com", "public"],
    ["8.8.8.8", "public"],
    ["[2606:4700:4700::1111]", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["localhost", "loopback"],
    ["api.localhost", "loopback"],
    ["[::1]", "loopback"],
    ["[::ffff:127.0.0.1]", "loopback"],
    ["[::ffff:7f00:1]", "loopback"],
    ["10.20.30.40", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["100.128.0.1", "public"],
    ["[fc00::1]", "private"],
    ["[fd00:ec2::254]", "private"],
    ["[64:ff9b::a00:1]", "private"],
    ["[2002:c0a8:101::1]", "private"],
    ["169.254.169.254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["[fe80::1]", "link-local"],
    ["224.0.0.1", "multicast"],
    ["[ff02::1]", "multicast"],
    ["0.0.0.0", "reserved"],
    ["[::]", "reserved"],
    ["240.0.0.1", "reserved"],
    ["metadata.google.internal", "metadata"],
    ["metadata", "metadata"],
    ["intranet", "internal-name"],
    ["printer.local", "internal-name"],
    ["db.internal", "internal-name"],
    ["example.com.", "public"],
  ])("%s is %s", (host, kind) => {
    expect(classifyHost(host)).toBe(kind);
  });
});

describe("checkUrl", () => {
  it("normalises numeric IPv4 spellings before judging them", () => {
    for (const url of ["http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/"]) {
      expect(checkUrl(url, { allowLoopback: false })).toMatchObject({ ok: false, code: "url_not_allowed" });
    }
  });

  it("allows loopback only with the local-mode flag, and never private ranges", () => {
    expect(checkUrl("http://127.0.0.1:8080/a.mp3", { allowLoopback: true }).ok).toBe(true);
    expect(checkUrl("http://[::1]:8080/a.mp3", { allowLoopback: true }).ok).toBe(true);
    expect(checkUrl("http://10.0.0.1/a.mp3", { allowLoopback: true }).ok).toBe(false);
    expect(checkUrl("http://169.254.169.254/", { allowLoopback: true }).ok).toBe(false);
  });

  it.each(["ftp://x.com/a", "file:///etc/passwd", "javascript:alert(1)", "data:,x", "https://u:p@x.com/", "https://u@x.com/", "//x.com/a", "nonsense"])(
    "refuses %s as invalid",
    (url) => {
      expect(checkUrl(url, { allowLoopback: true })).toMatchObject({ ok: false, code: "invalid_url" });
    },
  );
});

describe("parseIpv6", () => {
  it("expands compressed forms and refuses malformed ones", () => {
    expect(parseIpv6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("::ffff:10.0.0.1")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a00, 1]);
    for (const bad of ["1::2::3", "1:2:3", "12345::", "g::1", "1:2:3:4:5:6:7:8:9"]) expect(parseIpv6(bad)).toBeNull();
  });
});
