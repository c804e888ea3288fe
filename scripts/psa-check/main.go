// psa-check reads Kubernetes objects (a YAML stream, as `helm template` or `kubectl kustomize` print
// them) on stdin and evaluates the pod template of every workload against a Pod Security Standard
// level with the library kube-apiserver's PodSecurity admission uses (k8s.io/pod-security-admission).
// It prints one JSON line per workload and exits 1 when any is not allowed, 2 on unreadable input.
//
//	usage: psa-check [-level restricted|baseline] [-version latest|v1.N] < objects.yaml
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"
)

type result struct {
	Kind       string   `json:"kind"`
	Name       string   `json:"name"`
	Level      string   `json:"level"`
	Version    string   `json:"version"`
	Allowed    bool     `json:"allowed"`
	Violations []string `json:"violations"`
}

// podTemplate returns the pod metadata and spec a workload creates, or ok=false for other kinds.
func podTemplate(kind string, doc []byte) (*metav1.ObjectMeta, *corev1.PodSpec, bool, error) {
	switch kind {
	case "Pod":
		var o corev1.Pod
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.ObjectMeta, &o.Spec, true, err
	case "Deployment":
		var o appsv1.Deployment
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "StatefulSet":
		var o appsv1.StatefulSet
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "DaemonSet":
		var o appsv1.DaemonSet
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "ReplicaSet":
		var o appsv1.ReplicaSet
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "Job":
		var o batchv1.Job
		err := yaml.UnmarshalStrict(doc, &o)
		return &o.Spec.Template.ObjectMeta, &o.Spec.Template.Spec, true, err
	case "CronJob":
		var o batchv1.CronJob
		err := yaml.UnmarshalStrict(doc, &o)
		t := &o.Spec.JobTemplate.Spec.Template
		return &t.ObjectMeta, &t.Spec, true, err
	}
	return nil, nil, false, nil
}

func run(in io.Reader, out io.Writer, level api.Level, version api.Version) (int, error) {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return 2, err
	}
	lv := api.LevelVersion{Level: level, Version: version}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	status, workloads := 0, 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 2, err
		}
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return 2, err
		}
		meta, spec, ok, err := podTemplate(head.Kind, doc)
		if err != nil {
			return 2, fmt.Errorf("%s/%s: %w", head.Kind, head.Metadata.Name, err)
		}
		if !ok {
			continue
		}
		workloads++
		r := result{Kind: head.Kind, Name: head.Metadata.Name, Level: string(level), Version: version.String(), Allowed: true, Violations: []string{}}
		for _, c := range evaluator.EvaluatePod(lv, meta, spec) {
			if !c.Allowed {
				r.Allowed = false
				r.Violations = append(r.Violations, c.ForbiddenReason+": "+c.ForbiddenDetail)
			}
		}
		if !r.Allowed {
			status = 1
		}
		if err := enc.Encode(r); err != nil {
			return 2, err
		}
	}
	if workloads == 0 {
		return 2, errors.New("no workload in the input")
	}
	return status, nil
}

func main() {
	levelFlag := flag.String("level", "restricted", "Pod Security Standard level")
	versionFlag := flag.String("version", "latest", "policy version (latest or v1.N)")
	flag.Parse()
	level, err := api.ParseLevel(*levelFlag)
	if err == nil {
		var version api.Version
		version, err = api.ParseVersion(*versionFlag)
		if err == nil {
			var status int
			status, err = run(os.Stdin, os.Stdout, level, version)
			if err == nil {
				os.Exit(status)
			}
		}
	}
	fmt.Fprintln(os.Stderr, "psa-check:", err)
	os.Exit(2)
}
