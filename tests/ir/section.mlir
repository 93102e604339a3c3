// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-allocate-units,rdu-place,rdu-section' | filecheck %s
// The small chip's units hold 4 kernel configurations: the fifth kernel on the same sites starts
// a new section (a program load).

func.func @forward(%x: tensor<16xf32>) -> tensor<16xf32> {
  %0 = rgraph.neg %x : tensor<16xf32> -> tensor<16xf32>
  %1 = rgraph.exp %0 : tensor<16xf32> -> tensor<16xf32>
  %2 = rgraph.neg %1 : tensor<16xf32> -> tensor<16xf32>
  %3 = rgraph.exp %2 : tensor<16xf32> -> tensor<16xf32>
  %4 = rgraph.neg %3 : tensor<16xf32> -> tensor<16xf32>
  func.return %4 : tensor<16xf32>
}

// CHECK: rdu.kernel "k0_neg" attributes {section = 0 : i64}
// CHECK: rdu.kernel "k1_exp" attributes {section = 0 : i64}
// CHECK: rdu.kernel "k2_neg" attributes {section = 0 : i64}
// CHECK: rdu.kernel "k3_exp" attributes {section = 0 : i64}
// CHECK: rdu.kernel "k4_neg" attributes {section = 1 : i64}
