# Runs the dotdo worker locally with workerd (npm package `workerd`):
#
#   DOTDO_SECRET=... workerd serve deploy/cloudflare/workerd.capnp \
#     --directory-path do-storage=/var/lib/dotdo-do --socket-addr http=127.0.0.1:8787
#
# Durable Object SQLite files live under the `do-storage` directory.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .dotdoWorker),
    (name = "do-storage", disk = (path = "/var/lib/dotdo-do", writable = true)),
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "main"),
  ],
);

const dotdoWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "src/worker.js"),
    (name = "wire.js", esModule = embed "src/wire.js"),
    (name = "policy.js", esModule = embed "src/policy.js"),
  ],
  compatibilityDate = "2025-04-01",
  durableObjectNamespaces = [
    (className = "DotdoObject", uniqueKey = "dotdo-object-v1", enableSql = true),
    (className = "DotdoDirectory", uniqueKey = "dotdo-directory-v1", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-storage"),
  bindings = [
    (name = "OBJECTS", durableObjectNamespace = "DotdoObject"),
    (name = "DIRECTORY", durableObjectNamespace = "DotdoDirectory"),
    (name = "DOTDO_SECRET", fromEnvironment = "DOTDO_SECRET"),
  ],
);
