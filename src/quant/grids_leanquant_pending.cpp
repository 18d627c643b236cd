// Placeholders for the LeanQuant grids until their implementations are part of the build; the files
// that implement them replace this one.
#include "quant/grids.hpp"
#include "util/error.hpp"

namespace sq {

std::unique_ptr<Grid> make_loss_aware_affine_grid(int bits, bool sym) {
  throw_error(SQ_ERR_UNSUPPORTED, "grid 'loss-aware-affine' (", bits, "-bit, ", sym ? "sym" : "asym",
              ") is not built into this version of streamquant");
}

std::unique_ptr<Grid> make_lut_kmeans_grid(int bits) {
  throw_error(SQ_ERR_UNSUPPORTED, "grid 'lut' (", bits, "-bit k-means lookup table) is not built into this version of streamquant");
}

}  // namespace sq
