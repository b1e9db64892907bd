// 2-D convolutions on NHWC activations and HWIO filters through oneDNN, as XLA FFI handlers:
// the forward pass and both gradients. On the CPU, XLA computes a convolution's filter gradient
// as a convolution over the batch through Eigen, the largest single cost of a training step
// (benchmarks/RESULTS.md); oneDNN, the library PyTorch's CPU convolutions use, has kernels made
// for it. Built on first use by emojax/onednn.py.
//
// With `bf16` set (jax.default_matmul_precision("bfloat16")), each pass reads bfloat16 copies of
// its inputs and accumulates in float32, as mixed-precision training does on a GPU: on a CPU with
// AMX (Sapphire Rapids and later) that makes a width-48 VGG's training step 1.5-1.6x as fast
// (benchmarks/RESULTS.md). Where oneDNN has no bfloat16 kernel, the pass stays in float32.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;

namespace {

dnnl::engine& cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// One convolution's geometry: batch, input size and channels, output channels, kernel size,
// strides and padding (top, left, bottom, right); and whether it may use bfloat16.
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;

struct Conv {
  memory::desc src, wei, dst;  // the caller's layouts: NHWC, HWIO, NHWC (float32)
  memory::desc src_in, dst_in;  // what the passes read of x and dy: the same, or bfloat16 copies
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_backward_data::primitive_desc bwd_data_pd;
  dnnl::convolution_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::convolution_forward fwd;
  dnnl::convolution_backward_data bwd_data;
  dnnl::convolution_backward_weights bwd_weights;
};

// Every oneDNN call here runs on one thread (the XLA thread that calls it): the parallelism
// comes from XLA's own thread pool (see `parallel`), so oneDNN's OpenMP threads never compete
// with the XLA threads running the rest of the step on the same cores.
void one_thread() {
  thread_local bool set = false;
  if (!set) {
    omp_set_num_threads(1);
    set = true;
  }
}

// Primitive descriptors and primitives, made once per geometry (making them costs more than
// running a small convolution). The scratchpad is the caller's, so that one primitive can run
// on several threads at once.
Conv& conv_for(const Key& key) {
  static std::mutex mu;
  static std::map<Key, std::unique_ptr<Conv>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  one_thread();
  auto [n, h, w, ci, co, kh, kw, sh, sw, pt, pl, pb, pr, bf16] = key;
  const int64_t oh = (h + pt + pb - kh) / sh + 1, ow = (w + pl + pr - kw) / sw + 1;
  auto c = std::make_unique<Conv>();
  auto f32 = memory::data_type::f32;
  c->src = memory::desc({n, ci, h, w}, f32, memory::format_tag::nhwc);
  c->wei = memory::desc({co, ci, kh, kw}, f32, memory::format_tag::hwio);
  c->dst = memory::desc({n, co, oh, ow}, f32, memory::format_tag::nhwc);
  memory::dims strides{sh, sw}, pad_l{pt, pl}, pad_r{pb, pr};
  auto algo = dnnl::algorithm::convolution_direct;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  // The passes read x, dy and the filter in `in`; they write y, dx and dk in float32.
  auto make = [&](memory::data_type in) {
    c->src_in = memory::desc({n, ci, h, w}, in, memory::format_tag::nhwc);
    c->dst_in = memory::desc({n, co, oh, ow}, in, memory::format_tag::nhwc);
    memory::desc any_wei({co, ci, kh, kw}, in, memory::format_tag::any);
    memory::desc any_grad({co, ci, kh, kw}, f32, memory::format_tag::any);
    c->fwd_pd = dnnl::convolution_forward::primitive_desc(
        cpu(), dnnl::prop_kind::forward_training, algo, c->src_in, any_wei, c->dst, strides, pad_l,
        pad_r, attr);
    auto hint = in == f32 ? c->fwd_pd : dnnl::convolution_forward::primitive_desc(  // dy's type
        cpu(), dnnl::prop_kind::forward_training, algo, c->src_in, any_wei, c->dst_in, strides,
        pad_l, pad_r, attr);
    c->bwd_data_pd = dnnl::convolution_backward_data::primitive_desc(
        cpu(), algo, c->src, any_wei, c->dst_in, strides, pad_l, pad_r, hint, attr);
    c->bwd_weights_pd = dnnl::convolution_backward_weights::primitive_desc(
        cpu(), algo, c->src_in, any_grad, c->dst_in, strides, pad_l, pad_r, hint, attr);
  };
  try {
    make(bf16 ? memory::data_type::bf16 : f32);
  } catch (const dnnl::error&) {  // no bfloat16 kernel on this CPU
    if (!bf16) throw;
    make(f32);
  }
  c->fwd = dnnl::convolution_forward(c->fwd_pd);
  c->bwd_data = dnnl::convolution_backward_data(c->bwd_data_pd);
  c->bwd_weights = dnnl::convolution_backward_weights(c->bwd_weights_pd);
  return *cache.emplace(key, std::move(c)).first->second;
}

memory scratchpad(const memory::desc& want) {
  thread_local std::vector<char> buf;
  if (buf.size() < want.get_size()) buf.resize(want.get_size());
  return memory(want, cpu(), buf.data());
}

// `from` (the caller's float32) as a pass reads it: itself, or a copy in `storage` reordered on
// `s` to `desc` (a filter in the primitive's layout, an activation in bfloat16).
template <typename T>
memory reordered(const memory::desc& desc, memory from, std::vector<T>& storage, dnnl::stream& s) {
  if (desc == from.get_desc()) return from;
  storage.resize((desc.get_size() + sizeof(T) - 1) / sizeof(T));
  memory to(desc, cpu(), storage.data());
  dnnl::reorder(from, to).execute(s, from, to);
  return to;
}

// Runs body(0) ... body(parts - 1), each part claimed by whichever thread gets to it first: the
// caller and helpers queued on XLA's thread pool. A helper that starts late finds nothing left
// and returns; the caller does every part no helper started, so nothing waits on a busy pool.
struct Work {
  std::function<void(int)> body;
  int parts;
  std::atomic<int> next{0}, done{0};
  std::mutex mu;
  std::condition_variable finished;
  std::string error;
};

void drain(const std::shared_ptr<Work>& w) {
  one_thread();
  for (int i; (i = w->next.fetch_add(1)) < w->parts;) {
    try {
      w->body(i);
    } catch (const std::exception& e) {  // oneDNN's errors, allocation failures
      std::lock_guard<std::mutex> lock(w->mu);
      w->error = e.what();
    }
    if (w->done.fetch_add(1) + 1 == w->parts) {
      std::lock_guard<std::mutex> lock(w->mu);
      w->finished.notify_all();
    }
  }
}

std::string parallel(ffi::ThreadPool& pool, int parts, std::function<void(int)> body) {
  auto w = std::make_shared<Work>();
  w->body = std::move(body);
  w->parts = parts;
  for (int t = 1; t < parts; ++t) pool.Schedule([w] { drain(w); });
  drain(w);
  std::unique_lock<std::mutex> lock(w->mu);
  w->finished.wait(lock, [&] { return w->done.load() == w->parts; });
  return w->error;
}

// The batch split into `parts` slices: (first image, images) of slice i.
std::pair<int64_t, int64_t> slice(int64_t n, int parts, int i) {
  int64_t base = n / parts, extra = n % parts;
  return {i * base + std::min<int64_t>(i, extra), base + (i < extra)};
}

int parts_for(ffi::ThreadPool& pool, int64_t n) {
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(n, pool.num_threads())));
}

struct Geometry {
  int64_t sh, sw, pt, pl, pb, pr, bf16;
};

template <typename Dims>
Key key_of(const Dims& x, int64_t n, const Dims& k, const Geometry& g) {
  return Key{n, x[1], x[2], x[3], k[3], k[0], k[1], g.sh, g.sw, g.pt, g.pl, g.pb, g.pr, g.bf16};
}

int64_t per_image(const memory::desc& d) { return d.get_size() / sizeof(float) / d.get_dims()[0]; }

ffi::Error finish(const std::string& error) {
  return error.empty() ? ffi::Error::Success() : ffi::Error::Internal(error);
}

ffi::Error bad_rank() { return ffi::Error::InvalidArgument("emojax oneDNN conv: rank-4 buffers only"); }

ffi::Error Forward(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> k,
                   ffi::ResultBuffer<ffi::F32> y, int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                   int64_t pb, int64_t pr, int64_t bf16) {
  if (x.dimensions().size() != 4 || k.dimensions().size() != 4) return bad_rank();
  const Geometry g{sh, sw, pt, pl, pb, pr, bf16};
  const int64_t n = x.dimensions()[0];
  const int parts = parts_for(pool, n);
  std::vector<std::vector<float>> filters(parts);
  return finish(parallel(pool, parts, [&](int i) {
    auto [first, count] = slice(n, parts, i);
    Conv& c = conv_for(key_of(x.dimensions(), count, k.dimensions(), g));
    memory dst(c.dst, cpu(), y->typed_data() + first * per_image(c.dst));
    dnnl::stream s(cpu());
    memory wei = reordered(c.fwd_pd.weights_desc(), memory(c.wei, cpu(), k.typed_data()), filters[i], s);
    thread_local std::vector<uint16_t> xs;
    memory src = reordered(c.src_in, memory(c.src, cpu(), x.typed_data() + first * per_image(c.src)), xs, s);
    c.fwd.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst},
                      {DNNL_ARG_SCRATCHPAD, scratchpad(c.fwd_pd.scratchpad_desc())}});
    s.wait();
  }));
}

// The input gradient: dy (NHWC) and the filter in, dx (NHWC, the shape of x) out.
ffi::Error BackwardData(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> dy, ffi::Buffer<ffi::F32> k,
                        ffi::ResultBuffer<ffi::F32> dx, int64_t sh, int64_t sw, int64_t pt,
                        int64_t pl, int64_t pb, int64_t pr, int64_t bf16) {
  if (dx->dimensions().size() != 4 || k.dimensions().size() != 4) return bad_rank();
  const Geometry g{sh, sw, pt, pl, pb, pr, bf16};
  const int64_t n = dx->dimensions()[0];
  const int parts = parts_for(pool, n);
  std::vector<std::vector<float>> filters(parts);
  return finish(parallel(pool, parts, [&](int i) {
    auto [first, count] = slice(n, parts, i);
    Conv& c = conv_for(key_of(dx->dimensions(), count, k.dimensions(), g));
    memory diff_src(c.src, cpu(), dx->typed_data() + first * per_image(c.src));
    dnnl::stream s(cpu());
    memory wei = reordered(c.bwd_data_pd.weights_desc(), memory(c.wei, cpu(), k.typed_data()), filters[i], s);
    thread_local std::vector<uint16_t> ds;
    memory diff_dst = reordered(c.dst_in, memory(c.dst, cpu(), dy.typed_data() + first * per_image(c.dst)), ds, s);
    c.bwd_data.execute(s, {{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wei},
                           {DNNL_ARG_DIFF_SRC, diff_src},
                           {DNNL_ARG_SCRATCHPAD, scratchpad(c.bwd_data_pd.scratchpad_desc())}});
    s.wait();
  }));
}

// The filter gradient: x and dy (NHWC) in, dk (HWIO) out; each slice of the batch gives a
// partial filter gradient (the first in dk itself), and the parts are summed.
ffi::Error BackwardWeights(ffi::ThreadPool pool, ffi::Buffer<ffi::F32> x, ffi::Buffer<ffi::F32> dy,
                           ffi::ResultBuffer<ffi::F32> dk, int64_t sh, int64_t sw, int64_t pt,
                           int64_t pl, int64_t pb, int64_t pr, int64_t bf16) {
  if (x.dimensions().size() != 4 || dk->dimensions().size() != 4) return bad_rank();
  const Geometry g{sh, sw, pt, pl, pb, pr, bf16};
  const int64_t n = x.dimensions()[0];
  const size_t size = dk->element_count();
  const int parts = parts_for(pool, n);
  std::vector<std::vector<float>> partial(parts), own(parts);
  std::string error = parallel(pool, parts, [&](int i) {
    auto [first, count] = slice(n, parts, i);
    Conv& c = conv_for(key_of(x.dimensions(), count, dk->dimensions(), g));
    if (i > 0) partial[i].resize(size);
    memory hwio(c.wei, cpu(), i ? partial[i].data() : dk->typed_data());
    const memory::desc& want = c.bwd_weights_pd.diff_weights_desc();
    memory grad = hwio;  // in the primitive's own layout, then reordered to HWIO
    if (!(want == c.wei)) own[i].resize(want.get_size() / sizeof(float)), grad = memory(want, cpu(), own[i].data());
    dnnl::stream s(cpu());
    thread_local std::vector<uint16_t> xs, ds;
    memory src = reordered(c.src_in, memory(c.src, cpu(), x.typed_data() + first * per_image(c.src)), xs, s);
    memory diff_dst = reordered(c.dst_in, memory(c.dst, cpu(), dy.typed_data() + first * per_image(c.dst)), ds, s);
    c.bwd_weights.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst},
                              {DNNL_ARG_DIFF_WEIGHTS, grad},
                              {DNNL_ARG_SCRATCHPAD, scratchpad(c.bwd_weights_pd.scratchpad_desc())}});
    if (!(want == c.wei)) dnnl::reorder(grad, hwio).execute(s, grad, hwio);
    s.wait();
  });
  if (!error.empty()) return finish(error);
  float* out = dk->typed_data();
  for (int i = 1; i < parts; ++i)
    for (size_t j = 0; j < size; ++j) out[j] += partial[i][j];
  return ffi::Error::Success();
}

}  // namespace

#define EMOJAX_CONV_BINDING                                                             \
  ffi::Ffi::Bind()                                                                      \
      .Ctx<ffi::ThreadPool>()                                                           \
      .Arg<ffi::Buffer<ffi::F32>>()                                                     \
      .Arg<ffi::Buffer<ffi::F32>>()                                                     \
      .Ret<ffi::Buffer<ffi::F32>>()                                                     \
      .Attr<int64_t>("sh").Attr<int64_t>("sw")                                          \
      .Attr<int64_t>("pt").Attr<int64_t>("pl").Attr<int64_t>("pb").Attr<int64_t>("pr")   \
      .Attr<int64_t>("bf16")

XLA_FFI_DEFINE_HANDLER_SYMBOL(EmojaxConvForward, Forward, EMOJAX_CONV_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(EmojaxConvBackwardData, BackwardData, EMOJAX_CONV_BINDING);
XLA_FFI_DEFINE_HANDLER_SYMBOL(EmojaxConvBackwardWeights, BackwardWeights, EMOJAX_CONV_BINDING);
