# Homebrew formula for cgseq (macOS and Linuxbrew), Python-virtualenv style.
#
# On macOS there are no cgroups: cgseq runs its portable "poll" backend (psutil sampling,
# process-group kill). The systemd extra (pystemd) is Linux-only and not installed here.
#
# Release checklist (see packaging/README.md): upload the sdist to PyPI, put its url and
# sha256 below, then `brew update-python-resources packaging/homebrew/cgseq.rb` refreshes the
# resources (and adds build backends if Homebrew needs them), `brew audit --new cgseq`,
# `brew install --build-from-source ./cgseq.rb && brew test cgseq`.
class Cgseq < Formula
  include Language::Python::Virtualenv

  desc "Run commands one at a time per project under memory, process and time limits"
  homepage "https://pypi.org/project/cgseq/"
  url "https://files.pythonhosted.org/packages/source/c/cgseq/cgseq-0.1.0.tar.gz"
  # filled in at release from the uploaded sdist: shasum -a 256 dist/cgseq-0.1.0.tar.gz
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"

  depends_on "python@3.13"

  resource "fasteners" do
    url "https://files.pythonhosted.org/packages/source/f/fasteners/fasteners-0.20.tar.gz"
    sha256 "55dce8792a41b56f727ba6e123fcaee77fd87e638a6863cec00007bfea84c8d8"
  end

  resource "psutil" do
    url "https://files.pythonhosted.org/packages/source/p/psutil/psutil-7.2.2.tar.gz"
    sha256 "0746f5f8d406af344fd547f1c8daa5f5c33dbc293bb8d6a16d80b4bb88f59372"
  end

  resource "structlog" do
    url "https://files.pythonhosted.org/packages/source/s/structlog/structlog-26.1.0.tar.gz"
    sha256 "f63a716cbd1b1291cf7661de7794b455acfa4c43c5bcf1630e6ad5ddc1adb3b7"
  end

  def install
    virtualenv_install_with_resources
  end

  test do
    # a real job under a limit, on the backend this platform has (poll on macOS)
    assert_match "hello", shell_output("#{bin}/cgseq run --memory 200M -- echo hello")
    assert_match "poll", shell_output("#{bin}/cgseq doctor")
  end
end
