package api

import "github.com/gin-gonic/gin"

func registerConnect(r gin.IRouter, d Deps) {}
