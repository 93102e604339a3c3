// RUN: (rducc opt %s 2>&1; test $? -eq 2) | filecheck %s

builtin.module attributes {rdu.chip = "small"} {
  %0 = rdu.tensor "x" {role = "input", tier = "hbm", index = 0 : i64} : tensor<4xf32>
  rdu.kernel "k0" {
    %1 = rdu.load %0 {units = 1 : i64} : tensor<4xf32>
    %2 = rdu.compute "exp"(%1) {unit = "pmu", params = {}, units = 1 : i64} : (tensor<4xf32>) -> tensor<4xf32>
  }
}

// CHECK: error: {{.*}}rdu.compute: exp runs on a pcu, not a pmu
