/*
 * host.c: hosts end to end. A simulated 4xxx host with 2 PFs in a temporary directory:
 * discovery, status JSON, plans (fields and JSON), apply, a second plan that is empty, libvirt
 * hostdev XML (alone and inserted into a q35 domain), KubeVirt JSON, reset, and an apply whose
 * sriov_numvfs writes fail (rolled back, host unchanged). Then a fixture root (an empty one and
 * a guest with one QAT VF) and the real host (discovery must not fail, whatever it finds).
 *
 * Functions covered here: qatkit_sim_create, qatkit_host_open_sim, qatkit_host_open_root,
 * qatkit_host_open, qatkit_host_free, qatkit_sim_fail_writes, qatkit_host_discover,
 * qatkit_discovery_free, qatkit_discovery_pf_count, qatkit_discovery_guest_vf_count,
 * qatkit_discovery_pf, qatkit_discovery_vf, qatkit_discovery_guest_vf, qatkit_host_status_json,
 * qatkit_host_plan, qatkit_host_plan_json, qatkit_host_apply, qatkit_host_apply_json,
 * qatkit_host_reset, qatkit_host_hostdev_xml, qatkit_host_kubevirt_json, qatkit_string_free.
 */

#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[256];

/* A path inside the temporary directory (a static buffer per call site's slot). */
static const char *in_tmp(const char *name) {
    static char paths[8][512];
    static unsigned next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s/%s", tmpdir, name);
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static size_t count(const char *haystack, const char *needle) {
    size_t n = 0;
    if (haystack == NULL) {
        return 0;
    }
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle)) {
        n++;
    }
    return n;
}

/* The host's status JSON (NULL on failure); free with qatkit_string_free. */
static char *status_of(const qatkit_host *host) {
    char *json = NULL;
    CHECK_OK(qatkit_host_status_json(host, &json));
    return json;
}

/* A little JSON parsing: an object whose "pfs" member is an array. */
static bool looks_like_status(const char *json) {
    if (json == NULL || json[0] != '{' || json[strlen(json) - 1] != '}') {
        return false;
    }
    const char *pfs = strstr(json, "\"pfs\"");
    if (pfs == NULL) {
        return false;
    }
    pfs += strlen("\"pfs\"");
    while (*pfs == ' ' || *pfs == ':') {
        pfs++;
    }
    return *pfs == '[';
}

static qatkit_discovery *discover(const qatkit_host *host) {
    qatkit_discovery *d = NULL;
    CHECK_OK(qatkit_host_discover(host, NULL, 0, &d));
    return d;
}

static qatkit_desired desired_vfio(void) {
    return (qatkit_desired){
        .pfs = NULL,
        .pf_count = 0,
        .services = 0,
        .driver = NULL, /* vfio-pci */
        .vfio_group = NULL,
        .vfio_mode = 0,
        .force = false,
    };
}

/* ------------------------------------------------------------------------------------------ */

static void test_sim_create(void) {
    check_section("qatkit_sim_create / qatkit_host_open_sim / qatkit_host_free");
    const char *state = in_tmp("bad.json");
    CHECK_RESULT(qatkit_sim_create(NULL, "4xxx", 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_sim_create(state, NULL, 2), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_sim_create(state, "no-such-preset", 2), QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "no-such-preset");
    CHECK_RESULT(qatkit_sim_create(state, "qemu", 3), QATKIT_INVALID_INPUT); /* fixed machine */
    CHECK(!file_exists(state));
    qatkit_result r = qatkit_sim_create(in_tmp("no/such/dir/s.json"), "4xxx", 2);
    CHECK(r != QATKIT_OK && r != QATKIT_PANIC);

    /* Other presets, and 0 PFs (the preset's default). */
    CHECK_OK(qatkit_sim_create(in_tmp("mixed.json"), "mixed", 0));
    qatkit_host *host = NULL;
    CHECK_OK(qatkit_host_open_sim(in_tmp("mixed.json"), &host));
    qatkit_discovery *d = discover(host);
    CHECK_SIZE(qatkit_discovery_pf_count(d), 2); /* 4xxx and c62x; the igb PF is not QAT */
    qatkit_discovery_free(d);
    qatkit_host_free(host);

    /* Opening. */
    host = (qatkit_host *)&host;
    CHECK_RESULT(qatkit_host_open_sim(NULL, &host), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_open_sim(in_tmp("mixed.json"), NULL), QATKIT_NULL_PARAMETER);
    r = qatkit_host_open_sim(in_tmp("missing.json"), &host);
    CHECK(r != QATKIT_OK && r != QATKIT_PANIC);
    CHECK_CONTAINS(check_last_error(), "missing.json");
    /* A state file is the simulated host's input: a broken one is QATKIT_INVALID_INPUT. */
    FILE *f = fopen(in_tmp("broken.json"), "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("{\"version\": 1, \"kernel\": [", f);
        fclose(f);
    }
    r = qatkit_host_open_sim(in_tmp("broken.json"), &host);
    CHECK_RESULT(r, QATKIT_INVALID_INPUT);
    CHECK_CONTAINS(check_last_error(), "broken.json");
    CHECK(host == (qatkit_host *)&host);
    qatkit_host_free(NULL);
}

/* Discovery of the fresh 4xxx host: two PFs, no VFs yet. */
static void test_discovery_fresh(const qatkit_host *host) {
    check_section("discovery (fresh 4xxx host)");
    qatkit_discovery *d = (qatkit_discovery *)&d;
    CHECK_RESULT(qatkit_host_discover(NULL, NULL, 0, &d), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_discover(host, NULL, 0, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_discover(host, NULL, 1, &d), QATKIT_NULL_PARAMETER);
    const char *bad[] = {"not-an-address"};
    CHECK_RESULT(qatkit_host_discover(host, bad, 1, &d), QATKIT_INVALID_INPUT);
    const char *null_item[] = {NULL};
    CHECK_RESULT(qatkit_host_discover(host, null_item, 1, &d), QATKIT_NULL_PARAMETER);
    const char *missing[] = {"0000:99:00.0"};
    qatkit_result r = qatkit_host_discover(host, missing, 1, &d);
    CHECK(r == QATKIT_NOT_FOUND);
    CHECK(d == (qatkit_discovery *)&d);

    const char *named[] = {"0000:6b:00.0"};
    d = NULL;
    CHECK_OK(qatkit_host_discover(host, named, 1, &d));
    CHECK_SIZE(qatkit_discovery_pf_count(d), 2);
    qatkit_discovery_free(d);

    d = discover(host);
    CHECK_SIZE(qatkit_discovery_pf_count(d), 2);
    CHECK_SIZE(qatkit_discovery_guest_vf_count(d), 0);
    CHECK_SIZE(qatkit_discovery_pf_count(NULL), 0);
    CHECK_SIZE(qatkit_discovery_guest_vf_count(NULL), 0);

    static const char *const bdfs[] = {"0000:6b:00.0", "0000:70:00.0"};
    static const qatkit_services services[] = {QATKIT_SERVICE_ASYM | QATKIT_SERVICE_SYM,
                                               QATKIT_SERVICE_DC};
    for (size_t i = 0; i < 2; i++) {
        qatkit_pf_info pf;
        memset(&pf, 0xEE, sizeof pf);
        CHECK_OK(qatkit_discovery_pf(d, i, &pf));
        CHECK(strcmp(pf.bdf, bdfs[i]) == 0);
        CHECK(pf.vendor == 0x8086);
        CHECK(pf.device == 0x4940);
        CHECK(strcmp(pf.family, "4xxx") == 0);
        CHECK(pf.generation == 4);
        CHECK(pf.numa_node == (int32_t)i);
        CHECK(strcmp(pf.driver, "4xxx") == 0);
        CHECK(pf.iommu_group == (int64_t)i);
        CHECK(pf.sriov_totalvfs == 16);
        CHECK(pf.sriov_numvfs == 0);
        CHECK(pf.state == QATKIT_STATE_UP);
        CHECK(pf.services == services[i]);
        CHECK(pf.heartbeat == QATKIT_HEARTBEAT_HEALTHY);
        CHECK_SIZE(pf.vf_count, 0);
    }
    /* Out of range and NULL: refused, nothing written. */
    qatkit_pf_info pf;
    memset(&pf, 0xEE, sizeof pf);
    CHECK_RESULT(qatkit_discovery_pf(d, 2, &pf), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_discovery_pf(d, SIZE_MAX, &pf), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_discovery_pf(NULL, 0, &pf), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_discovery_pf(d, 0, NULL), QATKIT_NULL_PARAMETER);
    CHECK((unsigned char)pf.bdf[0] == 0xEE && pf.vf_count == (size_t)0xEEEEEEEEEEEEEEEEull);
    qatkit_vf_info vf;
    memset(&vf, 0xEE, sizeof vf);
    CHECK_RESULT(qatkit_discovery_vf(d, 0, 0, &vf), QATKIT_INVALID_INPUT); /* no VFs yet */
    CHECK_RESULT(qatkit_discovery_vf(d, 5, 0, &vf), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_discovery_vf(NULL, 0, 0, &vf), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_discovery_vf(d, 0, 0, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_discovery_guest_vf(d, 0, &vf), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_discovery_guest_vf(NULL, 0, &vf), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_discovery_guest_vf(d, 0, NULL), QATKIT_NULL_PARAMETER);
    CHECK((unsigned char)vf.bdf[0] == 0xEE && vf.holders == (size_t)0xEEEEEEEEEEEEEEEEull);
    qatkit_discovery_free(d);
    qatkit_discovery_free(NULL);
}

static void test_status(const qatkit_host *host) {
    check_section("qatkit_host_status_json");
    char *json = (char *)&json;
    CHECK_RESULT(qatkit_host_status_json(NULL, &json), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_status_json(host, NULL), QATKIT_NULL_PARAMETER);
    CHECK(json == (char *)&json);
    json = status_of(host);
    CHECK(looks_like_status(json));
    CHECK_CONTAINS(json, "\"pfs\"");
    CHECK_CONTAINS(json, "\"bdf\":\"0000:6b:00.0\"");
    CHECK_CONTAINS(json, "\"bdf\":\"0000:70:00.0\"");
    CHECK_SIZE(count(json, "\"sriov_totalvfs\":16"), 2);
    CHECK_SIZE(count(json, "\"sriov_numvfs\":0"), 2);
    CHECK_CONTAINS(json, "\"guest_vfs\":[]");
    qatkit_string_free(json);
}

/* Plans change nothing; bad requests are errors and no plan. */
static void test_plan(const qatkit_host *host) {
    check_section("qatkit_host_plan / qatkit_host_plan_json");
    char *before = status_of(host);
    qatkit_desired want = desired_vfio();
    char *plan = (char *)&plan;
    CHECK_RESULT(qatkit_host_plan(NULL, &want, &plan), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_plan(host, NULL, &plan), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_plan(host, &want, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_plan_json(NULL, "{\"driver\":\"vfio-pci\"}", &plan),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_plan_json(host, NULL, &plan), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_plan_json(host, "{\"driver\":\"vfio-pci\"}", NULL),
                 QATKIT_NULL_PARAMETER);
    /* Bad requests. */
    qatkit_desired bad = want;
    bad.pf_count = 1; /* pfs NULL */
    CHECK_RESULT(qatkit_host_plan(host, &bad, &plan), QATKIT_NULL_PARAMETER);
    const char *not_bdf[] = {"0000:6b:00"};
    bad = want;
    bad.pfs = not_bdf;
    bad.pf_count = 1;
    CHECK_RESULT(qatkit_host_plan(host, &bad, &plan), QATKIT_INVALID_INPUT);
    bad = want;
    bad.services = 0x100; /* no such service */
    CHECK_RESULT(qatkit_host_plan(host, &bad, &plan), QATKIT_INVALID_INPUT);
    bad = want;
    bad.driver = "";
    CHECK(qatkit_host_plan(host, &bad, &plan) != QATKIT_OK);
    CHECK_RESULT(qatkit_host_plan_json(host, "{", &plan), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_host_plan_json(host, "{}", &plan), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_host_plan_json(host, "[1,2]", &plan), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_host_plan_json(host, "", &plan), QATKIT_INVALID_INPUT);
    CHECK(plan == (char *)&plan);

    /* The first plan has steps: enable 16 VFs on each PF and bind them. */
    plan = NULL;
    CHECK_OK(qatkit_host_plan(host, &want, &plan));
    CHECK(plan != NULL && strncmp(plan, "{\"steps\":[", 10) == 0);
    CHECK(strcmp(plan, "{\"steps\":[]}") != 0);
    CHECK_SIZE(count(plan, "\"op\":\"enable_vfs\""), 2);
    CHECK_SIZE(count(plan, "\"count\":16"), 2);
    CHECK_SIZE(count(plan, "\"driver\":\"vfio-pci\""), 32);
    /* The same desired state as JSON plans the same. */
    char *plan_json = NULL;
    CHECK_OK(qatkit_host_plan_json(host, "{\"driver\": \"vfio-pci\"}", &plan_json));
    CHECK(plan != NULL && plan_json != NULL && strcmp(plan, plan_json) == 0);
    qatkit_string_free(plan_json);
    /* One PF only, by field and by JSON. */
    const char *one[] = {"0000:70:00.0"};
    qatkit_desired only = want;
    only.pfs = one;
    only.pf_count = 1;
    char *plan_one = NULL;
    CHECK_OK(qatkit_host_plan(host, &only, &plan_one));
    CHECK_SIZE(count(plan_one, "\"op\":\"enable_vfs\""), 1);
    CHECK_CONTAINS(plan_one, "0000:70:00.0");
    CHECK(plan_one != NULL && strstr(plan_one, "0000:6b:") == NULL);
    plan_json = NULL;
    CHECK_OK(qatkit_host_plan_json(
        host, "{\"driver\":\"vfio-pci\",\"pfs\":[\"0000:70:00.0\"],\"force\":false}", &plan_json));
    CHECK(plan_one != NULL && plan_json != NULL && strcmp(plan_one, plan_json) == 0);
    qatkit_string_free(plan_json);
    qatkit_string_free(plan_one);
    /* Services, by field and by JSON. */
    qatkit_desired svc = want;
    svc.services = QATKIT_SERVICE_SYM | QATKIT_SERVICE_DC;
    char *plan_svc = NULL;
    CHECK_OK(qatkit_host_plan(host, &svc, &plan_svc));
    CHECK_CONTAINS(plan_svc, "\"steps\":[");
    plan_json = NULL;
    CHECK_OK(qatkit_host_plan_json(host, "{\"driver\":\"vfio-pci\",\"services\":[\"sym\",\"dc\"]}",
                                   &plan_json));
    CHECK(plan_svc != NULL && plan_json != NULL && strcmp(plan_svc, plan_json) == 0);
    CHECK(plan_svc != NULL && plan != NULL && strcmp(plan_svc, plan) != 0);
    qatkit_string_free(plan_json);
    qatkit_string_free(plan_svc);
    qatkit_string_free(plan);

    /* Planning changed nothing. */
    char *after = status_of(host);
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    qatkit_string_free(before);
    qatkit_string_free(after);
}

/* Apply, then check what discovery says, and that a second plan is empty. */
static void test_apply(const qatkit_host *host) {
    check_section("qatkit_host_apply / qatkit_host_apply_json");
    char *before = status_of(host);
    qatkit_desired want = desired_vfio();
    char *report = (char *)&report;
    bool ok = true;
    /* NULL arguments and bad requests: an error, nothing changed, nothing written. */
    CHECK_RESULT(qatkit_host_apply(NULL, &want, NULL, &report, &ok), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply(host, NULL, NULL, &report, &ok), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply(host, &want, NULL, NULL, &ok), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply(host, &want, NULL, &report, NULL), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply_json(NULL, "{\"driver\":\"vfio-pci\"}", NULL, &report, &ok),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply_json(host, NULL, NULL, &report, &ok), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply_json(host, "{\"driver\":\"vfio-pci\"}", NULL, NULL, &ok),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_apply_json(host, "{\"driver\":\"vfio-pci\"}", NULL, &report, NULL),
                 QATKIT_NULL_PARAMETER);
    qatkit_desired bad = want;
    bad.services = 0x40;
    CHECK_RESULT(qatkit_host_apply(host, &bad, NULL, &report, &ok), QATKIT_INVALID_INPUT);
    bad = want;
    bad.vfio_group = "qatkit-no-such-group";
    CHECK_RESULT(qatkit_host_apply(host, &bad, NULL, &report, &ok), QATKIT_NOT_FOUND);
    CHECK_RESULT(qatkit_host_apply_json(host, "{\"driver\":", NULL, &report, &ok),
                 QATKIT_INVALID_INPUT);
    /* A lock that cannot be taken. */
    qatkit_result r = qatkit_host_apply(host, &want, in_tmp("no/such/dir/lock"), &report, &ok);
    CHECK(r != QATKIT_OK && r != QATKIT_PANIC);
    CHECK(report == (char *)&report && ok == true);
    char *after = status_of(host);
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    qatkit_string_free(after);

    /* The transaction, with a lock file of our choosing. */
    report = NULL;
    ok = false;
    CHECK_OK(qatkit_host_apply(host, &want, in_tmp("apply.lock"), &report, &ok));
    CHECK(ok);
    CHECK_CONTAINS(report, "\"ok\":true");
    CHECK_CONTAINS(report, "\"steps_done\":[");
    CHECK_CONTAINS(report, "\"rolled_back\":[]");
    CHECK_SIZE(count(report, "\"op\":\"enable_vfs\""), 2);
    qatkit_string_free(report);
    CHECK(file_exists(in_tmp("apply.lock")));

    /* Discovery sees the VFs. */
    qatkit_discovery *d = discover(host);
    for (size_t p = 0; p < 2 && d != NULL; p++) {
        qatkit_pf_info pf;
        CHECK_OK(qatkit_discovery_pf(d, p, &pf));
        CHECK(pf.sriov_numvfs == 16);
        CHECK_SIZE(pf.vf_count, 16);
        for (size_t v = 0; v < pf.vf_count; v++) {
            qatkit_vf_info vf;
            memset(&vf, 0xEE, sizeof vf);
            CHECK_OK(qatkit_discovery_vf(d, p, v, &vf));
            CHECK(strcmp(vf.physfn, pf.bdf) == 0);
            CHECK(strncmp(vf.bdf, pf.bdf, 8) == 0); /* same domain and bus here */
            CHECK(vf.vendor == 0x8086 && vf.device == 0x4941);
            CHECK(vf.numa_node == pf.numa_node);
            CHECK(strcmp(vf.driver, "vfio-pci") == 0);
            CHECK(vf.iommu_group >= 0 && vf.iommu_group != pf.iommu_group);
            CHECK(vf.holders == 0 && vf.device_open_by == 0);
            CHECK(!vf.vfio_node || vf.vfio_mode != 0);
        }
        qatkit_vf_info vf;
        CHECK_RESULT(qatkit_discovery_vf(d, p, 16, &vf), QATKIT_INVALID_INPUT);
    }
    qatkit_vf_info first;
    CHECK_OK(qatkit_discovery_vf(d, 0, 0, &first));
    CHECK(strcmp(first.bdf, "0000:6b:00.1") == 0);
    CHECK(first.iommu_group == 3);
    qatkit_discovery_free(d);

    /* The second plan is empty, by fields and by JSON. */
    char *plan = NULL;
    CHECK_OK(qatkit_host_plan(host, &want, &plan));
    CHECK(plan != NULL && strcmp(plan, "{\"steps\":[]}") == 0);
    qatkit_string_free(plan);
    plan = NULL;
    CHECK_OK(qatkit_host_plan_json(host, "{\"driver\":\"vfio-pci\"}", &plan));
    CHECK(plan != NULL && strcmp(plan, "{\"steps\":[]}") == 0);
    qatkit_string_free(plan);

    /* Applying again (JSON, default lock beside the state file) has nothing to do. */
    report = NULL;
    ok = false;
    CHECK_OK(qatkit_host_apply_json(host, "{\"driver\":\"vfio-pci\"}", NULL, &report, &ok));
    CHECK(ok);
    CHECK_CONTAINS(report, "\"steps_done\":[]");
    qatkit_string_free(report);
    CHECK(file_exists(in_tmp("host.json.lock")));

    /* The state was saved: a second handle on the file sees the same host. */
    char *mine = status_of(host);
    qatkit_host *again = NULL;
    CHECK_OK(qatkit_host_open_sim(in_tmp("host.json"), &again));
    char *theirs = status_of(again);
    CHECK(mine != NULL && theirs != NULL && strcmp(mine, theirs) == 0);
    CHECK_SIZE(count(theirs, "\"sriov_numvfs\":16"), 2);
    qatkit_string_free(mine);
    qatkit_string_free(theirs);
    qatkit_host_free(again);
    qatkit_string_free(before);
}

/* A minimal q35 domain (after qat-vf/tests/domain.rs's template). */
static const char DOMAIN_XML[] =
    "<domain type='kvm'>\n"
    "  <name>c-test</name>\n"
    "  <memory unit='MiB'>2048</memory>\n"
    "  <vcpu placement='static'>4</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64' machine='q35'>hvm</type>\n"
    "  </os>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <!-- the guest's own devices: qatkit keeps them -->\n"
    "    <controller type='pci' index='0' model='pcie-root'/>\n"
    "    <disk type='file' device='disk'>\n"
    "      <driver name='qemu' type='qcow2'/>\n"
    "      <source file='/var/lib/libvirt/images/c-test.qcow2'/>\n"
    "      <target dev='vda' bus='virtio'/>\n"
    "    </disk>\n"
    "  </devices>\n"
    "</domain>\n";

static void test_hostdev_xml(const qatkit_host *host) {
    check_section("qatkit_host_hostdev_xml");
    qatkit_xml_options opts = {
        .count = 2,
        .policy = QATKIT_POLICY_BALANCED,
        .numa_node = -1,
        .managed = true,
        .model = NULL,
        .rom_bar_off = false,
        .alias_prefix = NULL,
    };
    char *xml = (char *)&xml;
    CHECK_RESULT(qatkit_host_hostdev_xml(NULL, &opts, NULL, &xml), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_hostdev_xml(host, NULL, NULL, &xml), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &opts, NULL, NULL), QATKIT_NULL_PARAMETER);
    qatkit_xml_options bad = opts;
    bad.policy = 7;
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &bad, NULL, &xml), QATKIT_INVALID_INPUT);
    bad = opts;
    bad.numa_node = -2;
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &bad, NULL, &xml), QATKIT_INVALID_INPUT);
    /* Too many VFs: the host has 32. */
    bad = opts;
    bad.count = 33;
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &bad, NULL, &xml), QATKIT_LIMIT_EXCEEDED);
    bad.count = 17;
    bad.numa_node = 0; /* 16 on node 0 */
    qatkit_result r = qatkit_host_hostdev_xml(host, &bad, NULL, &xml);
    CHECK(r == QATKIT_OK || r == QATKIT_LIMIT_EXCEEDED); /* a preference, or a requirement */
    if (r == QATKIT_OK) {
        qatkit_string_free(xml);
        xml = (char *)&xml;
    }
    /* A domain qatkit cannot edit. */
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &opts, "<domain><devices>", &xml),
                 QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &opts, "not xml at all", &xml),
                 QATKIT_INVALID_INPUT);
    CHECK(xml == (char *)&xml);

    /* Standalone: the hostdevs (and controllers) for a fresh q35 domain. */
    xml = NULL;
    CHECK_OK(qatkit_host_hostdev_xml(host, &opts, NULL, &xml));
    CHECK_CONTAINS(xml, "<hostdev");
    CHECK_SIZE(count(xml, "<hostdev "), 2);
    CHECK_CONTAINS(xml, "managed=\"yes\"");
    CHECK_CONTAINS(xml, "ua-qat-");
    /* Balanced: one VF of each PF. */
    CHECK_CONTAINS(xml, "<address domain=\"0x0000\" bus=\"0x6b\"");
    CHECK_CONTAINS(xml, "<address domain=\"0x0000\" bus=\"0x70\"");
    qatkit_string_free(xml);

    /* Options: packed, unmanaged, rom bar off, an alias prefix of our own. */
    qatkit_xml_options mine = opts;
    mine.count = 3;
    mine.policy = QATKIT_POLICY_PACKED;
    mine.managed = false;
    mine.rom_bar_off = true;
    mine.alias_prefix = "ua-ctest-";
    xml = NULL;
    CHECK_OK(qatkit_host_hostdev_xml(host, &mine, NULL, &xml));
    CHECK_SIZE(count(xml, "<hostdev "), 3);
    CHECK_CONTAINS(xml, "ua-ctest-");
    CHECK_CONTAINS(xml, "<rom bar=\"off\"/>");
    CHECK_CONTAINS(xml, "managed=\"no\"");
    CHECK(xml != NULL && strstr(xml, "managed=\"yes\"") == NULL);
    CHECK(xml != NULL && strstr(xml, "bus=\"0x70\"") == NULL); /* packed: all three on 6b */
    qatkit_string_free(xml);

    /* Inserted into a domain: the whole domain back, its own elements kept. */
    xml = NULL;
    CHECK_OK(qatkit_host_hostdev_xml(host, &opts, DOMAIN_XML, &xml));
    CHECK_CONTAINS(xml, "<domain type='kvm'>");
    CHECK_CONTAINS(xml, "<name>c-test</name>");
    CHECK_CONTAINS(xml, "machine='q35'");
    CHECK_CONTAINS(xml, "<!-- the guest's own devices: qatkit keeps them -->");
    CHECK_CONTAINS(xml, "<source file='/var/lib/libvirt/images/c-test.qcow2'/>");
    CHECK_CONTAINS(xml, "</domain>");
    CHECK_SIZE(count(xml, "<hostdev "), 2);
    CHECK_SIZE(count(xml, "<domain"), 1);
    /* Inserting again into the result keeps qatkit's VFs: the same document. */
    char *twice = NULL;
    CHECK_OK(qatkit_host_hostdev_xml(host, &opts, xml, &twice));
    CHECK(xml != NULL && twice != NULL && strcmp(xml, twice) == 0);
    qatkit_string_free(twice);
    qatkit_string_free(xml);
}

static void test_kubevirt(const qatkit_host *host) {
    check_section("qatkit_host_kubevirt_json");
    char *json = (char *)&json;
    CHECK_RESULT(qatkit_host_kubevirt_json(NULL, 1, NULL, false, &json), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_kubevirt_json(host, 1, NULL, false, NULL), QATKIT_NULL_PARAMETER);
    /* An external provider names the resource. */
    CHECK_RESULT(qatkit_host_kubevirt_json(host, 1, NULL, true, &json), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_host_kubevirt_json(host, 1, "not a resource name!", false, &json),
                 QATKIT_INVALID_INPUT);
    CHECK(json == (char *)&json);
    json = NULL;
    CHECK_OK(qatkit_host_kubevirt_json(host, 2, NULL, false, &json));
    CHECK(json != NULL && json[0] == '{');
    CHECK_CONTAINS(json, "\"kubevirtPatch\"");
    CHECK_CONTAINS(json, "\"vmHostDevices\"");
    CHECK_CONTAINS(json, "8086:4941");
    qatkit_string_free(json);
    json = NULL;
    CHECK_OK(qatkit_host_kubevirt_json(host, 1, "example.com/qat", true, &json));
    CHECK_CONTAINS(json, "example.com/qat");
    qatkit_string_free(json);
}

static void test_reset(const qatkit_host *host) {
    check_section("qatkit_host_reset");
    char *report = (char *)&report;
    bool ok = true;
    CHECK_RESULT(qatkit_host_reset(NULL, NULL, 0, false, NULL, &report, &ok),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_reset(host, NULL, 1, false, NULL, &report, &ok),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_reset(host, NULL, 0, false, NULL, NULL, &ok),
                 QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_reset(host, NULL, 0, false, NULL, &report, NULL),
                 QATKIT_NULL_PARAMETER);
    const char *bad[] = {"zz:zz"};
    CHECK_RESULT(qatkit_host_reset(host, bad, 1, false, NULL, &report, &ok),
                 QATKIT_INVALID_INPUT);
    CHECK(report == (char *)&report && ok);
    qatkit_discovery *d = discover(host);
    qatkit_pf_info pf;
    CHECK_OK(qatkit_discovery_pf(d, 0, &pf));
    CHECK(pf.sriov_numvfs == 16);
    qatkit_discovery_free(d);

    /* One PF, then all. */
    const char *one[] = {"0000:6b:00.0"};
    report = NULL;
    ok = false;
    CHECK_OK(qatkit_host_reset(host, one, 1, false, in_tmp("reset.lock"), &report, &ok));
    CHECK(ok);
    CHECK_CONTAINS(report, "\"ok\":true");
    qatkit_string_free(report);
    d = discover(host);
    CHECK_OK(qatkit_discovery_pf(d, 0, &pf));
    CHECK(pf.sriov_numvfs == 0 && pf.vf_count == 0);
    CHECK_OK(qatkit_discovery_pf(d, 1, &pf));
    CHECK(pf.sriov_numvfs == 16);
    qatkit_discovery_free(d);

    report = NULL;
    ok = false;
    CHECK_OK(qatkit_host_reset(host, NULL, 0, false, NULL, &report, &ok));
    CHECK(ok);
    qatkit_string_free(report);
    char *status = status_of(host);
    CHECK_SIZE(count(status, "\"sriov_numvfs\":0"), 2);
    qatkit_string_free(status);

    /* No VFs left for XML. */
    qatkit_xml_options opts = {1, QATKIT_POLICY_BALANCED, -1, true, NULL, false, NULL};
    char *xml = (char *)&xml;
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &opts, NULL, &xml), QATKIT_LIMIT_EXCEEDED);
    CHECK(xml == (char *)&xml);
}

/* sriov_numvfs writes fail with EIO: an apply that changes services rolls back (QATKIT_OK,
 * ok false, the report says so) and leaves the host as it was. */
static void test_rollback(void) {
    check_section("qatkit_sim_fail_writes and a rolled-back apply");
    const char *state = in_tmp("fail.json");
    CHECK_OK(qatkit_sim_create(state, "4xxx", 2));
    qatkit_host *host = NULL;
    CHECK_OK(qatkit_host_open_sim(state, &host));
    if (host == NULL) {
        return;
    }
    qatkit_desired want = desired_vfio();
    char *report = NULL;
    bool ok = false;
    CHECK_OK(qatkit_host_apply(host, &want, NULL, &report, &ok));
    CHECK(ok);
    qatkit_string_free(report);

    CHECK_RESULT(qatkit_sim_fail_writes(NULL, "sriov_numvfs", EIO), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_sim_fail_writes(host, NULL, EIO), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_sim_fail_writes(host, "sriov_numvfs", 0), QATKIT_INVALID_INPUT);
    CHECK_RESULT(qatkit_sim_fail_writes(host, "sriov_numvfs", -5), QATKIT_INVALID_INPUT);

    char *before = status_of(host);
    CHECK_OK(qatkit_sim_fail_writes(host, "sriov_numvfs", EIO));

    /* Services change: VFs must go and come back, and sriov_numvfs cannot be written. */
    qatkit_desired svc = want;
    svc.services = QATKIT_SERVICE_SYM | QATKIT_SERVICE_DC;
    report = NULL;
    ok = true;
    CHECK_OK(qatkit_host_apply(host, &svc, NULL, &report, &ok));
    CHECK(!ok);
    CHECK_CONTAINS(report, "\"ok\":false");
    CHECK_CONTAINS(report, "rolled_back");
    CHECK_CONTAINS(report, "\"rollback_failures\":[]");
    CHECK_CONTAINS(report, "\"still_changed\":[]");
    CHECK_CONTAINS(report, "sriov_numvfs");
    qatkit_string_free(report);
    char *after = status_of(host);
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    qatkit_string_free(after);

    /* The same by JSON. */
    report = NULL;
    ok = true;
    CHECK_OK(qatkit_host_apply_json(host, "{\"driver\":\"vfio-pci\",\"services\":[\"dc\"]}", NULL,
                                    &report, &ok));
    CHECK(!ok);
    CHECK_CONTAINS(report, "rolled_back");
    qatkit_string_free(report);
    after = status_of(host);
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    qatkit_string_free(after);

    /* A reset needs sriov_numvfs too: rolled back, unchanged. */
    report = NULL;
    ok = true;
    CHECK_OK(qatkit_host_reset(host, NULL, 0, false, NULL, &report, &ok));
    CHECK(!ok);
    qatkit_string_free(report);

    /* Saved: the file, opened again, is the same host, and the fault is still armed. */
    qatkit_host *again = NULL;
    CHECK_OK(qatkit_host_open_sim(state, &again));
    after = status_of(again);
    CHECK(before != NULL && after != NULL && strcmp(before, after) == 0);
    qatkit_string_free(after);
    report = NULL;
    ok = true;
    CHECK_OK(qatkit_host_apply(again, &svc, NULL, &report, &ok));
    CHECK(!ok);
    qatkit_string_free(report);
    qatkit_host_free(again);

    qatkit_string_free(before);
    qatkit_host_free(host);
}

/* ------------------------------------------------------------------------------------------ */

static bool write_file(const char *rel, const char *content) {
    FILE *f = fopen(in_tmp(rel), "w");
    if (f == NULL) {
        return false;
    }
    bool ok = fputs(content, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* A guest's sysfs: one 4xxx VF (8086:4941) without a PF, no driver, no IOMMU. */
static bool make_guest_root(void) {
    static const char *const dirs[] = {
        "guest",
        "guest/sys",
        "guest/sys/devices",
        "guest/sys/devices/pci0000:00",
        "guest/sys/devices/pci0000:00/0000:00:05.0",
        "guest/sys/bus",
        "guest/sys/bus/pci",
        "guest/sys/bus/pci/devices",
        "guest/sys/bus/pci/drivers",
        "guest/sys/kernel",
        "guest/sys/kernel/iommu_groups",
        "guest/dev",
        "guest/proc",
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (mkdir(in_tmp(dirs[i]), 0755) != 0) {
            return false;
        }
    }
    const char *dev = "guest/sys/devices/pci0000:00/0000:00:05.0/";
    static const char *const attrs[][2] = {
        {"vendor", "0x8086\n"}, {"device", "0x4941\n"}, {"numa_node", "-1\n"},
        {"enable", "1\n"},      {"driver_override", "(null)\n"},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "%s%s", dev, attrs[i][0]);
        if (!write_file(rel, attrs[i][1])) {
            return false;
        }
    }
    return symlink("../../../devices/pci0000:00/0000:00:05.0",
                   in_tmp("guest/sys/bus/pci/devices/0000:00:05.0")) == 0;
}

static void test_open_root(void) {
    check_section("qatkit_host_open_root");
    qatkit_host *host = (qatkit_host *)&host;
    CHECK_RESULT(qatkit_host_open_root(NULL, &host), QATKIT_NULL_PARAMETER);
    CHECK_RESULT(qatkit_host_open_root(tmpdir, NULL), QATKIT_NULL_PARAMETER);
    CHECK(host == (qatkit_host *)&host);

    /* An empty directory: no devices at all. */
    CHECK(mkdir(in_tmp("empty"), 0755) == 0);
    host = NULL;
    CHECK_OK(qatkit_host_open_root(in_tmp("empty"), &host));
    qatkit_discovery *d = discover(host);
    CHECK(d != NULL);
    CHECK_SIZE(qatkit_discovery_pf_count(d), 0);
    CHECK_SIZE(qatkit_discovery_guest_vf_count(d), 0);
    qatkit_discovery_free(d);
    char *json = status_of(host);
    CHECK(looks_like_status(json));
    CHECK_CONTAINS(json, "\"pfs\":[]");
    qatkit_string_free(json);
    /* Not a simulated host: faults cannot be injected. */
    CHECK_RESULT(qatkit_sim_fail_writes(host, "sriov_numvfs", EIO), QATKIT_UNSUPPORTED);
    /* No QAT device: no KubeVirt configuration, no VFs for XML. */
    json = (char *)&json;
    CHECK(qatkit_host_kubevirt_json(host, 1, NULL, false, &json) != QATKIT_OK);
    qatkit_xml_options opts = {1, QATKIT_POLICY_BALANCED, -1, true, NULL, false, NULL};
    CHECK_RESULT(qatkit_host_hostdev_xml(host, &opts, NULL, &json), QATKIT_LIMIT_EXCEEDED);
    CHECK(json == (char *)&json);
    qatkit_host_free(host);

    /* A guest: one QAT VF whose PF is not visible. */
    CHECK(make_guest_root());
    host = NULL;
    CHECK_OK(qatkit_host_open_root(in_tmp("guest"), &host));
    d = discover(host);
    CHECK_SIZE(qatkit_discovery_pf_count(d), 0);
    CHECK_SIZE(qatkit_discovery_guest_vf_count(d), 1);
    qatkit_vf_info vf;
    memset(&vf, 0xEE, sizeof vf);
    CHECK_OK(qatkit_discovery_guest_vf(d, 0, &vf));
    CHECK(strcmp(vf.bdf, "0000:00:05.0") == 0);
    CHECK(vf.physfn[0] == '\0');
    CHECK(vf.vendor == 0x8086 && vf.device == 0x4941);
    CHECK(vf.numa_node == -1);
    CHECK(vf.driver[0] == '\0');
    CHECK(vf.iommu_group == -1);
    CHECK(!vf.vfio_node);
    CHECK(vf.holders == 0 && vf.device_open_by == 0);
    CHECK_RESULT(qatkit_discovery_guest_vf(d, 1, &vf), QATKIT_INVALID_INPUT);
    qatkit_discovery_free(d);
    json = NULL;
    CHECK_OK(qatkit_host_kubevirt_json(host, 1, NULL, false, &json));
    CHECK_CONTAINS(json, "8086:4941");
    qatkit_string_free(json);
    qatkit_host_free(host);
}

/* The real host: whatever it has, discovery and status work and change nothing. */
static void test_open_real(void) {
    check_section("qatkit_host_open (the real host)");
    CHECK_RESULT(qatkit_host_open(NULL), QATKIT_NULL_PARAMETER);
    qatkit_host *host = NULL;
    CHECK_OK(qatkit_host_open(&host));
    if (host == NULL) {
        return;
    }
    qatkit_discovery *d = NULL;
    CHECK_OK(qatkit_host_discover(host, NULL, 0, &d));
    size_t pfs = qatkit_discovery_pf_count(d);
    size_t guest = qatkit_discovery_guest_vf_count(d);
    printf("   the real host: %zu QAT PFs, %zu guest VFs\n", pfs, guest);
    for (size_t i = 0; i < pfs; i++) {
        qatkit_pf_info pf;
        CHECK_OK(qatkit_discovery_pf(d, i, &pf));
        printf("   PF %s %s gen %u, %u/%u VFs\n", pf.bdf, pf.family, pf.generation,
               pf.sriov_numvfs, pf.sriov_totalvfs);
        for (size_t v = 0; v < pf.vf_count; v++) {
            qatkit_vf_info vf;
            CHECK_OK(qatkit_discovery_vf(d, i, v, &vf));
        }
    }
    for (size_t v = 0; v < guest; v++) {
        qatkit_vf_info vf;
        CHECK_OK(qatkit_discovery_guest_vf(d, v, &vf));
    }
    qatkit_discovery_free(d);
    char *json = status_of(host);
    CHECK(looks_like_status(json));
    qatkit_string_free(json);
    qatkit_host_free(host);
}

int main(void) {
    const char *base = getenv("TMPDIR"); /* qatkit-capi/tests/c.rs gives each run its own */
    if (base == NULL || base[0] == '\0' || strlen(base) > sizeof tmpdir - 24) {
        base = "/tmp";
    }
    snprintf(tmpdir, sizeof tmpdir, "%s/qatkit-c-test-XXXXXX", base);
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    test_sim_create();

    const char *state = in_tmp("host.json");
    CHECK_OK(qatkit_sim_create(state, "4xxx", 2));
    CHECK(file_exists(state));
    qatkit_host *host = NULL;
    CHECK_OK(qatkit_host_open_sim(state, &host));
    if (host != NULL) {
        test_discovery_fresh(host);
        test_status(host);
        test_plan(host);
        test_apply(host);
        test_hostdev_xml(host);
        test_kubevirt(host);
        test_reset(host);
        qatkit_host_free(host);
    }
    test_rollback();
    test_open_root();
    test_open_real();

    CHECK(nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
    CHECK(!file_exists(tmpdir));
    return check_report();
}
