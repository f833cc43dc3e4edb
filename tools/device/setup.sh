# Sourced by the GPU-machine scripts (run.sh, engine.sh, profile.sh) after they set DEV, OUT and WORK:
# unpacks Node 22 into $WORK/node (sets NODE) and the trimmed node_modules beside the bundle (removed on
# exit, so a local smoke run leaves .device as bundle.sh made it), points Vulkan at the NVIDIA ICD unless
# VK_ICD_FILENAMES/VK_DRIVER_FILES is set, installs the bundled Vulkan loader when ldconfig knows none
# (root only), and records nvidia-smi in $OUT.
step() { echo "=== [$(date -u +%T), +$SECONDS s] $*"; }
step node
mkdir -p "$OUT" "$WORK/models"
xz -dc "$DEV/node.xz" > "$WORK/node" && chmod +x "$WORK/node" || { echo "setup: cannot unpack node"; exit 1; }
NODE=$WORK/node
"$NODE" --version || exit 1
trap 'rm -rf "$DEV/node_modules"' EXIT
tar -xJf "$DEV/modules.tar.xz" -C "$DEV" || { echo "setup: cannot unpack node_modules"; exit 1; }
step vulkan
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES=$f; break; fi
  done
fi
if ! ldconfig -p | grep -q 'libvulkan\.so\.1 '; then
  if [ "$(id -u)" = 0 ]; then
    for d in "$DEV"/debs/*.deb; do dpkg -x "$d" /; done
    ldconfig
  else
    echo "setup: no libvulkan.so.1 and not root: cannot dpkg -x the loader into /"
  fi
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia-smi.txt" 2>&1; cat "$OUT/nvidia-smi.txt"; else echo "no nvidia-smi"; fi
