import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { clusterVersionProblem, execKubeconfig, tokenFromSecretData, tokenKubeconfig, type ClusterEndpoint } from "../../../components/aws/kubeconfig";

const CLUSTER: ClusterEndpoint = { name: "devdb", endpoint: "https://ABC.gr7.eu-west-1.eks.amazonaws.com", certificateAuthorityData: "Y2EtZGF0YQ==" };

interface Kubeconfig {
    clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
    users: { name: string; user: { token?: string; exec?: { apiVersion: string; command: string; args: string[] } } }[];
    contexts: { name: string; context: { cluster: string; user: string } }[];
    "current-context": string;
}

describe("execKubeconfig", () => {
    const doc = parse(execKubeconfig(CLUSTER, "eu-west-1")) as Kubeconfig;

    it("gets short-lived tokens from aws eks get-token for the cluster and region", () => {
        expect(doc.users[0]?.user.exec).toMatchObject({
            apiVersion: "client.authentication.k8s.io/v1beta1",
            command: "aws",
            args: ["eks", "get-token", "--cluster-name", "devdb", "--region", "eu-west-1"],
        });
        expect(doc.users[0]?.user.token).toBeUndefined();
    });

    it("points at the cluster endpoint with its CA, as the current context", () => {
        expect(doc.clusters[0]?.cluster).toEqual({ server: CLUSTER.endpoint, "certificate-authority-data": CLUSTER.certificateAuthorityData });
        expect(doc["current-context"]).toBe(doc.contexts[0]?.name);
        expect(doc.contexts[0]?.context).toEqual({ cluster: "devdb", user: doc.users[0]?.name });
    });

    it.each([
        [{ ...CLUSTER, endpoint: "http://ABC.eks.amazonaws.com" }, /expected an https:\/\/ URL/],
        [{ ...CLUSTER, certificateAuthorityData: "" }, /no certificate authority data/],
    ])("refuses an unusable cluster %#", (cluster, message) => {
        expect(() => execKubeconfig(cluster, "eu-west-1")).toThrow(message);
    });
});

describe("tokenKubeconfig", () => {
    it("authenticates with the ServiceAccount token and nothing else", () => {
        const doc = parse(tokenKubeconfig(CLUSTER, "devdb-devdb", "eyJ.token")) as Kubeconfig;
        expect(doc.users).toEqual([{ name: "devdb-devdb", user: { token: "eyJ.token" } }]);
        expect(doc.clusters[0]?.cluster.server).toBe(CLUSTER.endpoint);
    });

    it("refuses an empty token with what to do", () => {
        expect(() => tokenKubeconfig(CLUSTER, "devdb-devdb", "")).toThrow(/no data.token yet; run pulumi up again/);
    });

    it("decodes the token from the Secret's base64 data", () => {
        expect(tokenFromSecretData({ token: Buffer.from("eyJ.abc").toString("base64"), "ca.crt": "eA==" })).toBe("eyJ.abc");
        expect(tokenFromSecretData(undefined)).toBe("");
        expect(tokenFromSecretData({})).toBe("");
    });
});

describe("clusterVersionProblem", () => {
    it.each<[string | undefined, RegExp | undefined]>([
        ["1.30", undefined],
        ["1.31", undefined],
        ["1.33", undefined],
        ["2.0", undefined],
        [undefined, undefined],
        ["1.29", /runs Kubernetes 1.29; the devdb admission policy needs ValidatingAdmissionPolicy v1, GA from 1.30/],
        ["1.28", /update-cluster-version --name devdb --kubernetes-version 1.30/],
        ["latest", /not MAJOR.MINOR/],
    ])("%s", (version, problem) => {
        const found = clusterVersionProblem("devdb", version);
        if (problem === undefined) expect(found).toBeUndefined();
        else expect(found).toMatch(problem);
    });
});
